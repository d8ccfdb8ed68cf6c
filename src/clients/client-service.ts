import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../db/errors.js';
import { generateClientSecret, hashClientSecret } from './client-secrets.js';
import type { ClientRepository } from './client-repository.js';
import { type Client, GRANT_TYPES } from './types.js';

// RFC 6749 §3.3 scope-token.
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const unique = <T>(xs: T[]) => [...new Set(xs)];

export const NewClientSchema = z.object({
  clientId: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters')
    .optional(),
  name: z.string().trim().min(1, 'must not be empty').max(255),
  grantTypes: z
    .array(z.enum(GRANT_TYPES, { error: `unknown grant type (known: ${GRANT_TYPES.join(', ')})` }))
    .min(1, 'at least one grant type is needed')
    .transform(unique),
  scopes: z.array(z.string().regex(SCOPE_TOKEN, 'is not a valid scope token')).default([]).transform(unique),
  audience: z.url().optional(),
  audiences: z.array(z.url()).default([]).transform(unique),
  accessTokenTtlSeconds: z.number().int().min(1).max(86400).optional(),
  mayIntrospect: z.boolean().default(false),
  requireDpop: z.boolean().default(false),
});
export type NewClient = z.input<typeof NewClientSchema>;

export interface IssuedSecret {
  client: Client;
  /** Shown to the operator once; only its hash is kept. */
  clientSecret: string;
}

export interface ClientService {
  create(input: NewClient): Promise<IssuedSecret>;
  /** A new secret; the old one keeps working for `graceHours` so deployments can roll over. */
  rotateSecret(clientId: string, graceHours: number, now?: Date): Promise<IssuedSecret>;
}

export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue?.path.filter((p) => typeof p === 'string').join('.');
  return where ? `${where}: ${issue?.message}` : (issue?.message ?? 'invalid input');
}

export function createClientService(clients: ClientRepository): ClientService {
  return {
    async create(input) {
      const parsed = NewClientSchema.safeParse(input);
      if (!parsed.success) throw new InvalidInputError(describeIssue(parsed.error));
      const c = parsed.data;
      const clientSecret = generateClientSecret();
      const client = await clients.insert({
        clientId: c.clientId ?? randomBytes(16).toString('base64url'),
        name: c.name,
        grantTypes: c.grantTypes,
        scopes: c.scopes,
        audience: c.audience ?? null,
        audiences: c.audiences,
        accessTokenTtlSeconds: c.accessTokenTtlSeconds ?? null,
        mayIntrospect: c.mayIntrospect,
        requireDpop: c.requireDpop,
        secretHash: hashClientSecret(clientSecret),
      });
      return { client, clientSecret };
    },
    async rotateSecret(clientId, graceHours, now = new Date()) {
      const clientSecret = generateClientSecret();
      const previousExpiresAt = new Date(now.getTime() + graceHours * 3_600_000);
      const client = await clients.rotateSecret(clientId, hashClientSecret(clientSecret), previousExpiresAt);
      if (!client) throw new NotFoundError('no client has this id');
      return { client, clientSecret };
    },
  };
}

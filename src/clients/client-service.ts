import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../db/errors.js';
import { generateClientSecret, hashClientSecret } from './client-secrets.js';
import type { ClientRepository } from './client-repository.js';
import { jwksUriSchema, PublicJwksSchema } from './public-jwks.js';
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
    .array(z.enum(GRANT_TYPES, { error: (i) => `unknown grant type "${String(i.input)}" (known: ${GRANT_TYPES.join(', ')})` }))
    .min(1, 'at least one grant type is needed')
    .transform(unique),
  scopes: z.array(z.string().regex(SCOPE_TOKEN, 'is not a valid scope token')).default([]).transform(unique),
  audience: z.url().optional(),
  audiences: z.array(z.url()).default([]).transform(unique),
  accessTokenTtlSeconds: z.number().int().min(1).max(86400).optional(),
  mayIntrospect: z.boolean().default(false),
});
export type NewClient = z.input<typeof NewClientSchema>;

/** Where a private_key_jwt client's public keys come from: inline, or a URL Sigil fetches (exactly one). */
function keySourceSchema(allowHttpLoopback: boolean) {
  return z
    .object({ jwks: PublicJwksSchema.optional(), jwksUri: jwksUriSchema(allowHttpLoopback).optional() })
    .refine((k) => (k.jwks === undefined) !== (k.jwksUri === undefined), 'give either jwks or jwksUri, not both and not neither');
}
export interface KeySource {
  /** A JWKS document (RFC 7517 §5): public keys only. */
  jwks?: unknown;
  jwksUri?: string;
}
export type NewKeyClient = NewClient & KeySource;

export interface ClientServiceOptions {
  /** Accept http:// jwks_uri on loopback addresses (development and tests only). */
  allowHttpLoopbackJwksUri?: boolean;
}

export interface IssuedSecret {
  client: Client;
  /** Shown to the operator once; only its hash is kept. */
  clientSecret: string;
}

export interface ClientService {
  create(input: NewClient): Promise<IssuedSecret>;
  /** A new secret; the old one keeps working for `graceHours` so deployments can roll over. */
  rotateSecret(clientId: string, graceHours: number, now?: Date): Promise<IssuedSecret>;
  /** A private_key_jwt client (RFC 7523 §2.2): public keys and no secret at all. */
  createWithKeys(input: NewKeyClient): Promise<Client>;
  /** Replaces a private_key_jwt client's keys (rotation: publish the new key beside the old, then drop the old). */
  setJwks(clientId: string, keys: KeySource): Promise<Client>;
}

export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue?.path.filter((p) => typeof p === 'string').join('.');
  return where ? `${where}: ${issue?.message}` : (issue?.message ?? 'invalid input');
}

export function createClientService(clients: ClientRepository, o: ClientServiceOptions = {}): ClientService {
  const KeySourceSchema = keySourceSchema(o.allowHttpLoopbackJwksUri ?? false);
  const parse = <T extends z.ZodType>(schema: T, input: unknown, where?: string): z.output<T> => {
    const parsed = schema.safeParse(input);
    if (!parsed.success) throw new InvalidInputError(`${where ? `${where}: ` : ''}${describeIssue(parsed.error)}`);
    return parsed.data;
  };
  return {
    async create(input) {
      const c = parse(NewClientSchema, input);
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
        secretHash: hashClientSecret(clientSecret),
      });
      return { client, clientSecret };
    },
    async rotateSecret(clientId, graceHours, now = new Date()) {
      const clientSecret = generateClientSecret();
      const previousExpiresAt = new Date(now.getTime() + graceHours * 3_600_000);
      const client = await clients.rotateSecret(clientId, hashClientSecret(clientSecret), previousExpiresAt);
      if (!client) throw new NotFoundError(`no client with id "${clientId}" that has a secret`);
      return { client, clientSecret };
    },
    async createWithKeys(input) {
      const { jwks, jwksUri, ...rest } = input;
      const c = parse(NewClientSchema, rest);
      const keys = parse(KeySourceSchema, { jwks, jwksUri });
      return clients.insert({
        clientId: c.clientId ?? randomBytes(16).toString('base64url'),
        name: c.name,
        grantTypes: c.grantTypes,
        scopes: c.scopes,
        audience: c.audience ?? null,
        audiences: c.audiences,
        accessTokenTtlSeconds: c.accessTokenTtlSeconds ?? null,
        mayIntrospect: c.mayIntrospect,
        authMethod: 'private_key_jwt',
        jwks: keys.jwks ?? null,
        jwksUri: keys.jwksUri ?? null,
      });
    },
    async setJwks(clientId, input) {
      const keys = parse(KeySourceSchema, { jwks: input.jwks, jwksUri: input.jwksUri });
      const client = await clients.setJwks(clientId, { jwks: keys.jwks ?? null, jwksUri: keys.jwksUri ?? null });
      if (!client) throw new NotFoundError(`no private_key_jwt client with id "${clientId}"`);
      return client;
    },
  };
}

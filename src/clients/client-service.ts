import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { ConflictError, InvalidInputError, NotFoundError, PreconditionFailedError } from '../db/errors.js';
import { decodeCursor, type Page, type PageRequest, pageSize, toPage } from '../db/pagination.js';
import { generateClientSecret, hashClientSecret } from './client-secrets.js';
import { type ClientChanges, type ClientRepository, createClientRepository } from './client-repository.js';
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

/** Where a private_key_jwt client's public keys come from: inline, or a URL Sigil fetches (exactly one). */
function keySourceSchema(allowHttpLoopback: boolean) {
  return z
    .object({ jwks: PublicJwksSchema.optional(), jwksUri: jwksUriSchema(allowHttpLoopback).optional() })
    .refine((k) => (k.jwks === undefined) !== (k.jwksUri === undefined), 'give the public keys either inline (jwks) or by URL (jwks_uri), not both and not neither');
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
  /** For changes that must see the row they change (If-Match); without it, plain statements. */
  db?: Database;
  /**
   * Told after every write to the clients (a change, a deletion, a new client: one re-created
   * under a deleted one's id included): the admin API clears its own instance's client cache here,
   * so that a disabled client or a rotated secret takes effect on the next request instead of at
   * the next NOTIFY or version check.
   */
  onChange?: () => void;
}

export interface IssuedSecret {
  client: Client;
  /** Shown to the operator once; only its hash is kept. */
  clientSecret: string;
}

/** Settings that may change after creation; what is given replaces what is stored. */
export const ClientChangesSchema = z.object({
  name: NewClientSchema.shape.name.optional(),
  grantTypes: NewClientSchema.shape.grantTypes.optional(),
  scopes: z.array(z.string().regex(SCOPE_TOKEN, 'is not a valid scope token')).transform(unique).optional(),
  audience: z.url().nullable().optional(),
  audiences: z.array(z.url()).transform(unique).optional(),
  accessTokenTtlSeconds: z.number().int().min(1).max(86400).nullable().optional(),
  mayIntrospect: z.boolean().optional(),
  disabled: z.boolean().optional(),
});
export type ClientUpdate = z.input<typeof ClientChangesSchema>;

/** When given, the change applies only to this version of the client (clientVersion), else PreconditionFailedError. */
export interface ExpectClient {
  expectedVersion?: string | undefined;
}

export interface ClientListQuery extends PageRequest {
  /** Names starting with this, case-insensitively. */
  namePrefix?: string | undefined;
}

/**
 * The client service under the CLI and the admin API. Errors: InvalidInputError, ConflictError
 * (a taken client_id), NotFoundError, PreconditionFailedError (a stale expected version).
 */
export interface ClientService {
  create(input: NewClient): Promise<IssuedSecret>;
  /** A new secret; the old one keeps working for `graceHours` so deployments can roll over. ConflictError for a private_key_jwt client. */
  rotateSecret(clientId: string, graceHours: number, now?: Date, o?: ExpectClient): Promise<IssuedSecret>;
  /** A private_key_jwt client (RFC 7523 §2.2): public keys and no secret at all. */
  createWithKeys(input: NewKeyClient): Promise<Client>;
  /**
   * Replaces a private_key_jwt client's keys (rotation: publish the new key beside the old, then
   * drop the old). ConflictError for a client that authenticates with a secret.
   */
  setJwks(clientId: string, keys: KeySource, o?: ExpectClient): Promise<Client>;
  get(clientId: string): Promise<Client>;
  /** Ordered by client_id (bytewise); `next` is the cursor of the following page, or null. */
  list(query?: ClientListQuery): Promise<Page<Client>>;
  /** Settings, and (private_key_jwt clients only) their keys, in one change. */
  update(clientId: string, changes: ClientUpdate & KeySource, o?: ExpectClient): Promise<Client>;
  /** Deletes the client and its refresh-token families; returns it as it was. */
  delete(clientId: string, o?: ExpectClient): Promise<Client>;
}

/**
 * A client's version for ETags: a digest of everything stored about it (the secret's hash
 * included, so a rotation is a new version). Clients have no version counter (migrations 001-005
 * predate ETags); a digest changes whenever the row does, which is what If-Match needs.
 */
export function clientVersion(c: Client): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ ...c, secretHash: undefined, previousSecretHash: undefined }));
  if (c.secretHash) h.update(c.secretHash);
  if (c.previousSecretHash) h.update(c.previousSecretHash);
  return h.digest('base64url').slice(0, 22);
}

export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue?.path.filter((p) => typeof p === 'string').join('.');
  return where ? `${where}: ${issue?.message}` : (issue?.message ?? 'invalid input');
}

/** The stored settings of a validated new client (a generated id unless one was given). */
const settingsOf = (c: z.output<typeof NewClientSchema>) => ({
  clientId: c.clientId ?? randomBytes(16).toString('base64url'),
  name: c.name,
  grantTypes: c.grantTypes,
  scopes: c.scopes,
  audience: c.audience ?? null,
  audiences: c.audiences,
  accessTokenTtlSeconds: c.accessTokenTtlSeconds ?? null,
  mayIntrospect: c.mayIntrospect,
  requireDpop: c.requireDpop,
});

const notFound = (_clientId: string) => new NotFoundError('no client has this id');

// A client has a secret or public keys, never both (RFC 7591 token_endpoint_auth_method).
const hasNoSecret = () => new ConflictError('this client authenticates with private_key_jwt: it has no secret to rotate (replace its keys instead)');
const hasNoKeys = () => new ConflictError('this client authenticates with a secret: it has no keys to replace');
const givesKeys = (k: KeySource) => k.jwks !== undefined || k.jwksUri !== undefined;

/** `db`: for changes that must see the row they change (If-Match); without it, plain statements. */
export function createClientService(clients: ClientRepository, o: ClientServiceOptions = {}): ClientService {
  const db = o.db;
  // Also after a failure: a lost COMMIT may have applied, and forgetting cached clients is always safe.
  const written = <T>(write: Promise<T>) => write.finally(() => o.onChange?.());
  /** Locks the client (with a db), checks the expected version, then runs `change` on it. */
  const change = <T>(clientId: string, o: ExpectClient | undefined, fn: (repo: ClientRepository, c: Client) => Promise<T>) => {
    const run = async (repo: ClientRepository) => {
      const c = db ? await repo.findForUpdate(clientId) : await repo.findById(clientId);
      if (!c) throw notFound(clientId);
      if (o?.expectedVersion !== undefined && clientVersion(c) !== o.expectedVersion) {
        throw new PreconditionFailedError('the client was changed since that version was read');
      }
      return fn(repo, c);
    };
    return written(db ? db.transaction((tx) => run(createClientRepository(tx))) : run(clients));
  };
  const KeySourceSchema = keySourceSchema(o.allowHttpLoopbackJwksUri ?? false);
  const parse = <T extends z.ZodType>(schema: T, input: unknown, where?: string): z.output<T> => {
    const parsed = schema.safeParse(input);
    if (!parsed.success) throw new InvalidInputError(`${where ? `${where}: ` : ''}${describeIssue(parsed.error)}`);
    return parsed.data;
  };
  const parseKeys = (k: KeySource) => {
    const parsed = KeySourceSchema.safeParse({ jwks: k.jwks, jwksUri: k.jwksUri });
    if (parsed.success) return parsed.data;
    const field = parsed.error.issues[0]?.path.find((p) => typeof p === 'string') ?? 'jwks';
    throw new InvalidInputError(describeIssue(parsed.error), { field });
  };
  const replaceKeys = async (repo: ClientRepository, c: Client, keys: ReturnType<typeof parseKeys>) => {
    if (c.authMethod !== 'private_key_jwt') throw hasNoKeys();
    const client = await repo.setJwks(c.clientId, { jwks: keys.jwks ?? null, jwksUri: keys.jwksUri ?? null });
    if (!client) throw notFound(c.clientId);
    return client;
  };
  return {
    async create(input) {
      const c = parse(NewClientSchema, input);
      const clientSecret = generateClientSecret();
      const client = await written(clients.insert({ ...settingsOf(c), secretHash: hashClientSecret(clientSecret) }));
      return { client, clientSecret };
    },
    async rotateSecret(clientId, graceHours, now = new Date(), o) {
      const clientSecret = generateClientSecret();
      const previousExpiresAt = new Date(now.getTime() + graceHours * 3_600_000);
      const client = await change(clientId, o, (repo, c) => {
        if (c.authMethod === 'private_key_jwt') throw hasNoSecret();
        return repo.rotateSecret(clientId, hashClientSecret(clientSecret), previousExpiresAt);
      });
      if (!client) throw notFound(clientId);
      return { client, clientSecret };
    },
    async get(clientId) {
      const c = await clients.findById(clientId);
      if (!c) throw notFound(clientId);
      return c;
    },
    async list(query = {}) {
      const limit = pageSize(query.limit);
      const after = decodeCursor(query.after);
      const namePrefix = query.namePrefix;
      if (namePrefix !== undefined && (namePrefix.length < 1 || namePrefix.length > 255)) {
        throw new InvalidInputError('name_prefix must be 1 to 255 characters', { field: 'name_prefix' });
      }
      const rows = await clients.page({ limit, after, namePrefix });
      return toPage(rows, limit, (c) => c.clientId);
    },
    async update(clientId, input, o) {
      const { jwks, jwksUri, ...changes } = input;
      const parsed = ClientChangesSchema.safeParse(changes);
      if (!parsed.success) {
        const field = parsed.error.issues[0]?.path.find((p) => typeof p === 'string');
        throw new InvalidInputError(describeIssue(parsed.error), field ? { field } : {});
      }
      const keys = givesKeys({ jwks, jwksUri }) ? parseKeys({ jwks, jwksUri }) : undefined;
      const c = parsed.data as ClientChanges;
      return change(clientId, o, async (repo, current) => {
        if (keys) await replaceKeys(repo, current, keys);
        const updated = await repo.update(clientId, c);
        if (!updated) throw notFound(clientId);
        return updated;
      });
    },
    delete: (clientId, o) =>
      change(clientId, o, async (repo, c) => {
        await repo.delete(clientId);
        return c;
      }),
    async createWithKeys(input) {
      const { jwks, jwksUri, ...rest } = input;
      const c = parse(NewClientSchema, rest);
      const keys = parseKeys({ jwks, jwksUri });
      return written(
        clients.insert({
          ...settingsOf(c),
          authMethod: 'private_key_jwt',
          jwks: keys.jwks ?? null,
          jwksUri: keys.jwksUri ?? null,
        }),
      );
    },
    async setJwks(clientId, input, o) {
      const keys = parseKeys(input);
      return change(clientId, o, (repo, c) => replaceKeys(repo, c, keys));
    },
  };
}

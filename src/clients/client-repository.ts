import type { Queryable } from '../db/database.js';
import { ConflictError, isUniqueViolation, storableText } from '../db/errors.js';
import type { AuthMethod, Client, ClientSettings, GrantType, PublicJwk } from './types.js';

interface ClientRow {
  client_id: string;
  name: string;
  token_endpoint_auth_method: AuthMethod;
  secret_hash: Uint8Array | null;
  jwks: { keys: PublicJwk[] } | null;
  jwks_uri: string | null;
  previous_secret_hash: Uint8Array | null;
  previous_secret_expires_at: Date | null;
  grant_types: GrantType[];
  scopes: string[];
  audience: string | null;
  audiences: string[];
  access_token_ttl_seconds: number | null;
  may_introspect: boolean;
  require_dpop: boolean;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `client_id, name, token_endpoint_auth_method, secret_hash, jwks, jwks_uri, previous_secret_hash, previous_secret_expires_at, grant_types,
  scopes, audience, audiences, access_token_ttl_seconds, may_introspect, require_dpop, disabled, created_at, updated_at`;

// pg hands bytea back as Buffer, PGlite as Uint8Array: one shape from here on.
const toClient = (r: ClientRow): Client => ({
  clientId: r.client_id,
  name: r.name,
  authMethod: r.token_endpoint_auth_method,
  secretHash: r.secret_hash && Buffer.from(r.secret_hash),
  jwks: r.jwks,
  jwksUri: r.jwks_uri,
  previousSecretHash: r.previous_secret_hash && Buffer.from(r.previous_secret_hash),
  previousSecretExpiresAt: r.previous_secret_expires_at,
  grantTypes: r.grant_types,
  scopes: r.scopes,
  audience: r.audience,
  audiences: r.audiences,
  accessTokenTtlSeconds: r.access_token_ttl_seconds,
  mayIntrospect: r.may_introspect,
  requireDpop: r.require_dpop,
  disabled: r.disabled,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** What a new client proves itself with: a secret's hash, or public keys (private_key_jwt). */
export type ClientCredentialsRecord =
  | { authMethod?: 'client_secret_basic' | 'client_secret_post'; secretHash: Buffer }
  | { authMethod: 'private_key_jwt'; jwks: { keys: PublicJwk[] } | null; jwksUri: string | null };

export interface ClientRepository {
  insert(client: ClientSettings & ClientCredentialsRecord): Promise<Client>;
  findById(clientId: string): Promise<Client | undefined>;
  /** Those of the clients that exist, in one statement; an id no text column can hold is simply not found. */
  findByIds(clientIds: readonly string[]): Promise<Client[]>;
  list(): Promise<Client[]>;
  /** The current secret becomes the previous one, valid until `previousExpiresAt`. */
  rotateSecret(clientId: string, secretHash: Buffer, previousExpiresAt: Date): Promise<Client | undefined>;
  /** private_key_jwt clients only: new public keys (inline or by URI); undefined when no such client. */
  setJwks(clientId: string, keys: { jwks: { keys: PublicJwk[] } | null; jwksUri: string | null }): Promise<Client | undefined>;
  setDisabled(clientId: string, disabled: boolean): Promise<Client | undefined>;
  delete(clientId: string): Promise<boolean>;
  /** The client, its row locked until the transaction ends. */
  findForUpdate(clientId: string): Promise<Client | undefined>;
  /** Ordered by client_id: `limit + 1` rows at most, the extra one telling of a next page. */
  page(q: { limit: number; after?: string | undefined; namePrefix?: string | undefined }): Promise<Client[]>;
  /** Sets the given settings (undefined: unchanged; null audience or TTL: back to the server default). */
  update(clientId: string, changes: ClientChanges): Promise<Client | undefined>;
}

/** Settings an operator may change after creation (not the id, not the secret). */
export type ClientChanges = Partial<Omit<ClientSettings, 'clientId'> & { disabled: boolean }>;

// Column of each changeable setting: the only names that reach the SQL text.
const CHANGE_COLUMNS: Record<keyof ClientChanges, string> = {
  name: 'name',
  grantTypes: 'grant_types',
  scopes: 'scopes',
  audience: 'audience',
  audiences: 'audiences',
  accessTokenTtlSeconds: 'access_token_ttl_seconds',
  mayIntrospect: 'may_introspect',
  requireDpop: 'require_dpop',
  disabled: 'disabled',
};

export function createClientRepository(db: Queryable): ClientRepository {
  const one = async (sql: string, params: unknown[]) => {
    const row = (await db.query<ClientRow>(sql, params)).rows[0];
    return row && toClient(row);
  };
  return {
    async insert(c) {
      try {
        const r = await db.query<ClientRow>(
          `insert into clients (client_id, name, secret_hash, grant_types, scopes, audience, audiences,
             access_token_ttl_seconds, may_introspect, require_dpop, token_endpoint_auth_method, jwks, jwks_uri)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning ${COLUMNS}`,
          [
            c.clientId,
            c.name,
            'secretHash' in c ? c.secretHash : null,
            c.grantTypes,
            c.scopes,
            c.audience,
            c.audiences,
            c.accessTokenTtlSeconds,
            c.mayIntrospect,
            c.requireDpop,
            c.authMethod ?? 'client_secret_basic',
            'jwks' in c && c.jwks ? JSON.stringify(c.jwks) : null,
            'jwksUri' in c ? c.jwksUri : null,
          ],
        );
        return toClient(r.rows[0] as ClientRow);
      } catch (err) {
        // Never the id itself: this message reaches admin API responses.
        if (isUniqueViolation(err)) throw new ConflictError('a client with this client_id already exists');
        throw err;
      }
    },
    findById: (clientId) => one(`select ${COLUMNS} from clients where client_id = $1`, [clientId]),
    async findByIds(clientIds) {
      // One unstorable id would fail the statement, and so every lookup sharing it.
      const ids = clientIds.filter(storableText);
      if (ids.length === 0) return [];
      return (await db.query<ClientRow>(`select ${COLUMNS} from clients where client_id = any($1::text[])`, [ids])).rows.map(toClient);
    },
    async list() {
      return (await db.query<ClientRow>(`select ${COLUMNS} from clients order by created_at, client_id`)).rows.map(
        toClient,
      );
    },
    rotateSecret: (clientId, secretHash, previousExpiresAt) =>
      one(
        `update clients set previous_secret_hash = secret_hash, previous_secret_expires_at = $3,
           secret_hash = $2, updated_at = now()
         where client_id = $1 and token_endpoint_auth_method <> 'private_key_jwt' returning ${COLUMNS}`,
        [clientId, secretHash, previousExpiresAt],
      ),
    setJwks: (clientId, { jwks, jwksUri }) =>
      one(
        `update clients set jwks = $2, jwks_uri = $3, updated_at = now()
         where client_id = $1 and token_endpoint_auth_method = 'private_key_jwt' returning ${COLUMNS}`,
        [clientId, jwks ? JSON.stringify(jwks) : null, jwksUri],
      ),
    setDisabled: (clientId, disabled) =>
      one(`update clients set disabled = $2, updated_at = now() where client_id = $1 returning ${COLUMNS}`, [
        clientId,
        disabled,
      ]),
    async delete(clientId) {
      return (await db.query('delete from clients where client_id = $1 returning client_id', [clientId])).rows.length > 0;
    },
    findForUpdate: (clientId) => one(`select ${COLUMNS} from clients where client_id = $1 for update`, [clientId]),
    async page({ limit, after, namePrefix }) {
      const r = await db.query<ClientRow>(
        `select ${COLUMNS} from clients
         where ($1::text is null or client_id collate "C" > $1)
           and ($2::text is null or starts_with(lower(name), lower($2)))
         order by client_id collate "C" limit $3`,
        [after ?? null, namePrefix ?? null, limit + 1],
      );
      return r.rows.map(toClient);
    },
    async update(clientId, changes) {
      const sets: string[] = [];
      const params: unknown[] = [clientId];
      for (const [key, column] of Object.entries(CHANGE_COLUMNS) as [keyof ClientChanges, string][]) {
        if (changes[key] === undefined) continue;
        params.push(changes[key]);
        sets.push(`${column} = $${params.length}`);
      }
      if (sets.length === 0) return this.findById(clientId);
      return one(`update clients set ${sets.join(', ')}, updated_at = now() where client_id = $1 returning ${COLUMNS}`, params);
    },
  };
}

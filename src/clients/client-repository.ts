import type { Queryable } from '../db/database.js';
import { ConflictError, isUniqueViolation } from '../db/errors.js';
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
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `client_id, name, token_endpoint_auth_method, secret_hash, jwks, jwks_uri, previous_secret_hash, previous_secret_expires_at, grant_types,
  scopes, audience, audiences, access_token_ttl_seconds, may_introspect, disabled, created_at, updated_at`;

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
  list(): Promise<Client[]>;
  /** The current secret becomes the previous one, valid until `previousExpiresAt`. */
  rotateSecret(clientId: string, secretHash: Buffer, previousExpiresAt: Date): Promise<Client | undefined>;
  /** private_key_jwt clients only: new public keys (inline or by URI); undefined when no such client. */
  setJwks(clientId: string, keys: { jwks: { keys: PublicJwk[] } | null; jwksUri: string | null }): Promise<Client | undefined>;
  setDisabled(clientId: string, disabled: boolean): Promise<Client | undefined>;
  delete(clientId: string): Promise<boolean>;
}

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
             access_token_ttl_seconds, may_introspect, token_endpoint_auth_method, jwks, jwks_uri)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning ${COLUMNS}`,
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
            c.authMethod ?? 'client_secret_basic',
            'jwks' in c && c.jwks ? JSON.stringify(c.jwks) : null,
            'jwksUri' in c ? c.jwksUri : null,
          ],
        );
        return toClient(r.rows[0] as ClientRow);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`a client with id "${c.clientId}" already exists`);
        throw err;
      }
    },
    findById: (clientId) => one(`select ${COLUMNS} from clients where client_id = $1`, [clientId]),
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
  };
}

import type { Queryable } from '../db/database.js';

export interface AccessTokenStatus {
  revoked: boolean;
  /** The user's name when `userId` names an enabled user. */
  username: string | undefined;
  /** The token's client still exists and is enabled. */
  clientEnabled: boolean;
}

export interface AccessTokenRevocations {
  /** Records a revoked access token until it would have expired anyway (RFC 7009). */
  revoke(token: { jti: string; clientId: string; expiresAt: Date }): Promise<void>;
  /** Everything introspection needs beyond the signature, in one indexed round trip. */
  status(token: { jti: string; clientId: string; userId: string | undefined }): Promise<AccessTokenStatus>;
  /** Forgets revocations of tokens that expired more than `keepSeconds` ago. */
  purge(q: Queryable, keepSeconds: number): Promise<number>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAccessTokenRevocations(db: Queryable, now: () => Date = () => new Date()): AccessTokenRevocations {
  return {
    async revoke({ jti, clientId, expiresAt }) {
      await db.query(
        `insert into revoked_access_tokens (jti, client_id, expires_at, revoked_at) values ($1, $2, $3, $4)
         on conflict (jti) do nothing`,
        [jti, clientId, expiresAt, now()],
      );
    },
    async status({ jti, clientId, userId }) {
      // Each lookup is by primary key (revoked_access_tokens.jti, users.id, clients.client_id).
      const r = await db.query<{ revoked: boolean; username: string | null; client_enabled: boolean }>(
        `select exists (select 1 from revoked_access_tokens where jti = $1) as revoked,
                (select username from users where id = $2::uuid and not disabled) as username,
                exists (select 1 from clients where client_id = $3 and not disabled) as client_enabled`,
        [jti, userId && UUID.test(userId) ? userId : null, clientId],
      );
      const row = r.rows[0];
      return { revoked: row?.revoked ?? true, username: row?.username ?? undefined, clientEnabled: row?.client_enabled ?? false };
    },
    async purge(q, keepSeconds) {
      const r = await q.query('delete from revoked_access_tokens where expires_at < $1 returning jti', [
        new Date(now().getTime() - keepSeconds * 1000),
      ]);
      return r.rows.length;
    },
  };
}

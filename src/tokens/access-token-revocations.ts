import { createBatcher } from '../db/batch.js';
import { checkLimit, deleteBatch } from '../db/batched-delete.js';
import type { Queryable } from '../db/database.js';

export interface AccessTokenStatus {
  /** Its jti was revoked, or the login it came from (its `sid`, a refresh family) has ended. */
  revoked: boolean;
  /** The user's name when `userId` names an enabled user. */
  username: string | undefined;
  /** The token's client still exists and is enabled. */
  clientEnabled: boolean;
}

export interface AccessTokenRevocations {
  /** Records a revoked access token until it would have expired anyway (RFC 7009). */
  revoke(token: { jti: string; clientId: string; expiresAt: Date }): Promise<void>;
  /**
   * Everything introspection needs beyond the signature, by primary keys, read after the call
   * (concurrent calls share a statement: src/db/batch.ts).
   */
  status(token: { jti: string; clientId: string; userId: string | undefined; familyId?: string | undefined }): Promise<AccessTokenStatus>;
  /** Forgets at most `limit` revocations of tokens that expired more than `keepSeconds` ago; returns how many. */
  purge(q: Queryable, keepSeconds: number, limit: number): Promise<number>;
}

const PURGE = `with gone as (
  delete from revoked_access_tokens where ctid = any (array(
    select ctid from revoked_access_tokens where expires_at < $1 order by expires_at limit $2))
  returning 1)
select count(*)::int as n from gone`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type StatusKey = { jti: string; clientId: string; userId: string | null; familyId: string | null };
interface StatusRow {
  revoked: boolean;
  username: string | null;
  client_enabled: boolean;
}

// One row per key, in order. Each lookup is by primary key (revoked_access_tokens.jti, users.id,
// clients.client_id, refresh_token_families.id). A token of a login (family_id set) is revoked
// unless its family is still there and live (RFC 7009 §2.1): revoked, ended by reuse, logout, an
// admin or a password change, or purged, it takes its access tokens with it.
const STATUS = `
  select exists (select 1 from revoked_access_tokens r where r.jti = q.jti)
           or (q.family_id is not null
               and not exists (select 1 from refresh_token_families f where f.id = q.family_id and f.revoked_at is null)) as revoked,
         (select u.username from users u where u.id = q.user_id and not u.disabled) as username,
         exists (select 1 from clients c where c.client_id = q.client_id and not c.disabled) as client_enabled
  from unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[]) with ordinality as q(jti, user_id, client_id, family_id, n)
  order by q.n`;

export function createAccessTokenRevocations(db: Queryable, now: () => Date = () => new Date()): AccessTokenRevocations {
  const statuses = createBatcher<StatusKey, StatusRow | undefined>(async (keys) => {
    const r = await db.query<StatusRow>(STATUS, [
      keys.map((k) => k.jti),
      keys.map((k) => k.userId),
      keys.map((k) => k.clientId),
      keys.map((k) => k.familyId),
    ]);
    return keys.map((_, i) => r.rows[i]);
  });
  return {
    async revoke({ jti, clientId, expiresAt }) {
      await db.query(
        `insert into revoked_access_tokens (jti, client_id, expires_at, revoked_at) values ($1, $2, $3, $4)
         on conflict (jti) do nothing`,
        [jti, clientId, expiresAt, now()],
      );
    },
    async status({ jti, clientId, userId, familyId }) {
      // A family reference that is no UUID names no live family: revoked (fail closed).
      if (familyId !== undefined && !UUID.test(familyId)) return { revoked: true, username: undefined, clientEnabled: false };
      const row = await statuses.load({ jti, clientId, userId: userId && UUID.test(userId) ? userId : null, familyId: familyId ?? null });
      return { revoked: row?.revoked ?? true, username: row?.username ?? undefined, clientEnabled: row?.client_enabled ?? false };
    },
    purge(q, keepSeconds, limit) {
      checkLimit(limit);
      return deleteBatch(q, PURGE, [new Date(now().getTime() - keepSeconds * 1000), limit]);
    },
  };
}

import { deletePageRange } from '../db/batched-delete.js';
import type { Queryable } from '../db/database.js';

// private_key_jwt assertion ids already used (RFC 7523 §3 item 7): in the database, so a replay is
// refused on every instance; housekeeping (ops/) purges them once their assertion has expired.
const PURGE = `with gone as (
  delete from spent_client_assertions where ctid = any (array(
    select ctid from spent_client_assertions where ctid >= $1::tid and ctid < $2::tid and expires_at < $4 limit $3))
  returning 1)
select count(*)::int as n from gone`;

export interface SpentAssertions {
  /** Records a jti as used; false when it was already (a replay, on whichever instance). */
  spend(clientId: string, jti: string, expiresAt: Date): Promise<boolean>;
  /** One step of a walk through the table (src/db/batched-delete.ts): forgets at most `limit` ids whose assertion expired more than `keepSeconds` ago. */
  purge(q: Queryable, keepSeconds: number, limit: number, fromPage?: number): Promise<{ deleted: number; nextPage: number | undefined }>;
}

export function createSpentAssertions(db: Queryable, now: () => Date = () => new Date()): SpentAssertions {
  return {
    async spend(clientId, jti, expiresAt) {
      const r = await db.query(
        `insert into spent_client_assertions (client_id, jti, expires_at) values ($1, $2, $3)
         on conflict do nothing returning jti`,
        [clientId, jti, expiresAt],
      );
      return r.rows.length === 1;
    },
    purge(q, keepSeconds, limit, fromPage) {
      return deletePageRange(q, 'spent_client_assertions', PURGE, [new Date(now().getTime() - keepSeconds * 1000)], limit, fromPage);
    },
  };
}

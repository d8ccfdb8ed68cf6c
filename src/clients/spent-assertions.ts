import { deletePageRange } from '../db/batched-delete.js';
import type { Queryable } from '../db/database.js';
import { createSpendOnce, type SpendOnceStatement } from '../db/spend-once.js';

// private_key_jwt assertion ids already used (RFC 7523 §3 item 7): in the database, so a replay is
// refused on every instance. Concurrent spends share one insert and one commit (src/db/spend-once.ts),
// each committed before its promise resolves, so before the token is answered. Housekeeping (ops/)
// purges them once their assertion has expired.
const PURGE = `with gone as (
  delete from spent_client_assertions where ctid = any (array(
    select ctid from spent_client_assertions where ctid >= $1::tid and ctid < $2::tid and expires_at < $4 limit $3))
  returning 1)
select count(*)::int as n from gone`;

/** The batched insert of spent ids (src/db/spend-once.ts). */
export const SPEND_ASSERTIONS: SpendOnceStatement = {
  table: 'spent_client_assertions',
  keyLength: 2,
  sql: `with ins as (
    insert into spent_client_assertions (client_id, jti, expires_at)
    select e->>0, e->>1, to_timestamp((e->>2)::float8 / 1000) from json_array_elements($1::json) as e
    on conflict do nothing returning client_id, jti
  )
  select count(*) < $2 as replayed, case when count(*) < $2 then json_agg(json_build_array(client_id, jti)) end as inserted from ins`,
};

export interface SpentAssertions {
  /** Records a jti as used; false when it was already (a replay, on whichever instance). */
  spend(clientId: string, jti: string, expiresAt: Date): Promise<boolean>;
  /** One step of a walk through the table (src/db/batched-delete.ts): forgets at most `limit` ids whose assertion expired more than `keepSeconds` ago. */
  purge(q: Queryable, keepSeconds: number, limit: number, fromPage?: number): Promise<{ deleted: number; nextPage: number | undefined }>;
}

export function createSpentAssertions(db: Queryable, now: () => Date = () => new Date()): SpentAssertions {
  const ids = createSpendOnce(db, SPEND_ASSERTIONS);
  return {
    spend(clientId, jti, expiresAt) {
      return ids.spend([clientId, jti], expiresAt.getTime());
    },
    purge(q, keepSeconds, limit, fromPage) {
      return deletePageRange(q, 'spent_client_assertions', PURGE, [new Date(now().getTime() - keepSeconds * 1000)], limit, fromPage);
    },
  };
}

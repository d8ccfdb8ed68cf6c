import { hash } from 'node:crypto';
import { deletePageRange } from '../db/batched-delete.js';
import type { Database, Queryable } from '../db/database.js';
import { createSpendOnce, type SpendOnceStatement } from '../db/spend-once.js';

const PURGE = `with gone as (
  delete from dpop_proof_jtis where ctid = any (array(
    select ctid from dpop_proof_jtis where ctid >= $1::tid and ctid < $2::tid and expires_at < $4 limit $3))
  returning 1)
select count(*)::int as n from gone`;

/** The batched insert of proof ids (src/db/spend-once.ts). */
export const SPEND_PROOF_IDS: SpendOnceStatement = {
  table: 'dpop_proof_jtis',
  keyLength: 1,
  sql: `with ins as (
    insert into dpop_proof_jtis (jti, expires_at)
    select e->>0, to_timestamp((e->>1)::float8 / 1000) from json_array_elements($1::json) as e
    on conflict do nothing returning jti
  )
  select count(*) < $2 as replayed, case when count(*) < $2 then json_agg(json_build_array(jti)) end as inserted from ins`,
};

export interface DpopReplayStore {
  /** Records a proof id once; false when any instance has recorded it already (a replay). */
  remember(jkt: string, jti: string, expiresAt: Date): Promise<boolean>;
  /** One step of a walk through the table (src/db/batched-delete.ts): forgets at most `limit` proof ids that expired before `now`. */
  purge(q: Queryable, now: Date, limit: number, fromPage?: number): Promise<{ deleted: number; nextPage: number | undefined }>;
}

/**
 * Spent proof ids, in the database so every instance sees them, spent once and batched by
 * src/db/spend-once.ts. The id is stored as a hash of the key thumbprint and the jti: a jti is only
 * unique per key, and one client cannot spend another's.
 */
export function createDpopReplayStore(db: Pick<Database, 'query'>): DpopReplayStore {
  const ids = createSpendOnce(db, SPEND_PROOF_IDS);
  return {
    remember(jkt, jti, expiresAt) {
      return ids.spend([hash('sha256', `${jkt}\0${jti}`, 'base64url')], expiresAt.getTime());
    },
    purge(q, now, limit, fromPage) {
      return deletePageRange(q, 'dpop_proof_jtis', PURGE, [now], limit, fromPage);
    },
  };
}

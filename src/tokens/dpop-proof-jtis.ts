import { hash } from 'node:crypto';
import { createBatcher } from '../db/batch.js';
import { deletePageRange } from '../db/batched-delete.js';
import type { Database, Queryable } from '../db/database.js';

const PURGE = `with gone as (
  delete from dpop_proof_jtis where ctid = any (array(
    select ctid from dpop_proof_jtis where ctid >= $1::tid and ctid < $2::tid and expires_at < $4 limit $3))
  returning 1)
select count(*)::int as n from gone`;

export interface DpopReplayStore {
  /** Records a proof id once; false when any instance has recorded it already (a replay). */
  remember(jkt: string, jti: string, expiresAt: Date): Promise<boolean>;
  /** One step of a walk through the table (src/db/batched-delete.ts): forgets at most `limit` proof ids that expired before `now`. */
  purge(q: Queryable, now: Date, limit: number, fromPage?: number): Promise<{ deleted: number; nextPage: number | undefined }>;
}

/**
 * Spent proof ids, in the database so every instance sees them. The id is stored as a hash of the
 * key thumbprint and the jti: a jti is only unique per key, and one client cannot spend another's.
 * Concurrent proofs share one insert (src/db/batch.ts): one round trip and one commit for all of
 * them. Within a batch, the first request carrying an id gets it; a repeat is a replay as it
 * would be one statement later.
 *
 * The batch travels as two flat strings (ids are base64url, so a space cannot occur in one, and
 * expiry times as epoch milliseconds) and PostgreSQL splits them: node-postgres escapes every array
 * element and formats every Date by hand, which cost more of the event loop per proof than the
 * rest of the insert.
 */
export function createDpopReplayStore(db: Pick<Database, 'query'>): DpopReplayStore {
  const inserts = createBatcher<{ id: string; expiresAt: number }, boolean>(async (proofs) => {
    // One row back whatever the batch size: a count, and the inserted ids only when some were not.
    const r = await db.query<{ replayed: boolean; inserted: string[] | null }>(
      `with p as (select * from unnest(string_to_array($1, ' '), string_to_array($2, ' ')) as p (id, ms)),
       ins as (
         insert into dpop_proof_jtis (jti, expires_at) select id, to_timestamp(ms::float8 / 1000) from p
         on conflict do nothing returning jti
       )
       select count(*) < $3 as replayed, case when count(*) < $3 then array_agg(jti) end as inserted from ins`,
      [proofs.map((p) => p.id).join(' '), proofs.map((p) => p.expiresAt).join(' '), proofs.length],
    );
    const row = r.rows[0];
    if (!row) throw new Error('the proof id insert returned no row');
    if (!row.replayed) return proofs.map(() => true);
    const inserted = new Set(row.inserted ?? []);
    return proofs.map((p) => inserted.delete(p.id));
  });
  return {
    remember(jkt, jti, expiresAt) {
      return inserts.load({ id: hash('sha256', `${jkt}\0${jti}`, 'base64url'), expiresAt: expiresAt.getTime() });
    },
    purge(q, now, limit, fromPage) {
      return deletePageRange(q, 'dpop_proof_jtis', PURGE, [now], limit, fromPage);
    },
  };
}

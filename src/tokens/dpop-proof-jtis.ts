import { createHash } from 'node:crypto';
import { createBatcher } from '../db/batch.js';
import { deletePageRange } from '../db/batched-delete.js';
import type { Database, Queryable } from '../db/database.js';

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
 */
export function createDpopReplayStore(db: Pick<Database, 'query'>): DpopReplayStore {
  const inserts = createBatcher<{ id: string; expiresAt: Date }, boolean>(async (proofs) => {
    const r = await db.query<{ jti: string }>(
      `insert into dpop_proof_jtis (jti, expires_at)
       select * from unnest($1::text[], $2::timestamptz[]) on conflict do nothing returning jti`,
      [proofs.map((p) => p.id), proofs.map((p) => p.expiresAt)],
    );
    const inserted = new Set(r.rows.map((row) => row.jti));
    return proofs.map((p) => inserted.delete(p.id));
  });
  return {
    remember(jkt, jti, expiresAt) {
      const id = createHash('sha256').update(`${jkt}\0${jti}`).digest('base64url');
      return inserts.load({ id, expiresAt });
    },
    purge(q, now, limit, fromPage) {
      return deletePageRange(q, 'dpop_proof_jtis', 'expires_at < $1', [now], limit, fromPage);
    },
  };
}

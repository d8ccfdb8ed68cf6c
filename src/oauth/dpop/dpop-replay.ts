import { createHash } from 'node:crypto';
import type { Queryable } from '../../db/database.js';

export interface DpopReplayStore {
  /** Records a proof id once; false when any instance has recorded it already (a replay). */
  remember(jkt: string, jti: string, expiresAt: Date): Promise<boolean>;
  purge(q: Queryable, now: Date): Promise<number>;
}

/**
 * Spent proof ids, in the database so every instance sees them. The id is stored as a hash of the
 * key thumbprint and the jti: a jti is only unique per key, and one client cannot spend another's.
 */
export function createDpopReplayStore(db: Queryable): DpopReplayStore {
  return {
    async remember(jkt, jti, expiresAt) {
      const id = createHash('sha256').update(`${jkt}\0${jti}`).digest('base64url');
      const r = await db.query('insert into dpop_proof_jtis (jti, expires_at) values ($1, $2) on conflict do nothing returning jti', [
        id,
        expiresAt,
      ]);
      return r.rows.length === 1;
    },
    async purge(q, now) {
      return (await q.query('delete from dpop_proof_jtis where expires_at < $1 returning jti', [now])).rows.length;
    },
  };
}

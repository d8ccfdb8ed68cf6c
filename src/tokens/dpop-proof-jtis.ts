import { hash } from 'node:crypto';
import { deletePageRange } from '../db/batched-delete.js';
import type { Database, Queryable } from '../db/database.js';
import { createSpendOnce } from '../db/spend-once.js';

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
  const ids = createSpendOnce(db, 'dpop_proof_jtis', ['jti']);
  return {
    remember(jkt, jti, expiresAt) {
      return ids.spend([hash('sha256', `${jkt}\0${jti}`, 'base64url')], expiresAt.getTime());
    },
    purge(q, now, limit, fromPage) {
      return deletePageRange(q, 'dpop_proof_jtis', 'expires_at < $1', [now], limit, fromPage);
    },
  };
}

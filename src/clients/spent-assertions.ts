import { deletePageRange } from '../db/batched-delete.js';
import type { Queryable } from '../db/database.js';
import { createSpendOnce } from '../db/spend-once.js';

// private_key_jwt assertion ids already used (RFC 7523 §3 item 7): in the database, so a replay is
// refused on every instance. Concurrent spends share one insert and one commit (src/db/spend-once.ts),
// each committed before its promise resolves, so before the token is answered. Housekeeping (ops/)
// purges them once their assertion has expired.
export interface SpentAssertions {
  /** Records a jti as used; false when it was already (a replay, on whichever instance). */
  spend(clientId: string, jti: string, expiresAt: Date): Promise<boolean>;
  /** One step of a walk through the table (src/db/batched-delete.ts): forgets at most `limit` ids whose assertion expired more than `keepSeconds` ago. */
  purge(q: Queryable, keepSeconds: number, limit: number, fromPage?: number): Promise<{ deleted: number; nextPage: number | undefined }>;
}

export function createSpentAssertions(db: Queryable, now: () => Date = () => new Date()): SpentAssertions {
  const ids = createSpendOnce(db, 'spent_client_assertions', ['client_id', 'jti']);
  return {
    spend(clientId, jti, expiresAt) {
      return ids.spend([clientId, jti], expiresAt.getTime());
    },
    purge(q, keepSeconds, limit, fromPage) {
      return deletePageRange(q, 'spent_client_assertions', 'expires_at < $1', [new Date(now().getTime() - keepSeconds * 1000)], limit, fromPage);
    },
  };
}

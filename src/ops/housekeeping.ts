import type { Config } from '../config.js';
import type { Database, Queryable } from '../db/database.js';
import { LOCKS } from '../db/locks.js';
import { createDpopReplayStore } from '../tokens/dpop-proof-jtis.js';
import { createAccessTokenRevocations } from '../tokens/access-token-revocations.js';
import { createRefreshTokenStore } from '../tokens/refresh-tokens.js';
import { createLoginThrottle } from '../users/login-throttle.js';
import { createSpentAssertions } from '../clients/spent-assertions.js';
import { type Periodic, runEvery } from '../periodic.js';

export interface PurgeTask {
  name: string;
  /** Deletes at most `limit` rows nobody needs any more; returns how many (fewer: nothing is left). */
  purge(q: Queryable, limit: number): Promise<number>;
}

/**
 * Rows one purge transaction deletes at most. Small enough that a batch takes milliseconds (its
 * row locks, WAL burst and, on the embedded database, its hold on the only connection stay short),
 * large enough that a pass over a million expired rows is a thousand statements, not a million.
 */
export const PURGE_BATCH_ROWS = 1000;

export interface Housekeeping {
  /** One pass over every task, by whichever instance gets the lock; undefined when another has it. */
  runOnce(): Promise<Record<string, number> | undefined>;
  start(intervalSeconds: number, onError?: (err: unknown) => void): void;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

/**
 * Deletes rows nobody needs any more (expired refresh tokens, old revocations, forgotten login
 * failures) so no table grows without bound. A pass deletes in batches of at most `batchRows`,
 * each its own short transaction, so requests go on between them however much has piled up.
 * Every instance runs the timer; each batch takes a try-lock first, so batches never run on two
 * instances at once, and an instance that finds the lock taken ends its pass (the holder is at it).
 */
export function createHousekeeping(db: Database, tasks: PurgeTask[], { batchRows = PURGE_BATCH_ROWS } = {}): Housekeeping {
  let passes: Periodic | undefined;
  const batch = (task: PurgeTask) =>
    db.transaction(async (tx) => {
      const lock = await tx.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [LOCKS.housekeeping]);
      return lock.rows[0]?.ok ? task.purge(tx, batchRows) : undefined;
    });
  const runOnce = async () => {
    const purged: Record<string, number> = Object.fromEntries(tasks.map((task) => [task.name, 0]));
    let first = true;
    for (const task of tasks) {
      for (;;) {
        const n = await batch(task);
        if (n === undefined) return first ? undefined : purged;
        first = false;
        purged[task.name] = (purged[task.name] ?? 0) + n;
        if (n < batchRows) break;
      }
    }
    return purged;
  };
  return {
    runOnce,
    start(intervalSeconds, onError = () => {}) {
      passes = runEvery(intervalSeconds * 1000, () => runOnce().catch(onError));
    },
    async stop() {
      await passes?.stop();
      passes = undefined;
    },
  };
}

/** Sigil's purge tasks. Rows are kept a day past their end, for incident forensics. */
export function sigilPurgeTasks(db: Database, config: Config, now: () => Date, keepSeconds = 86400): PurgeTask[] {
  const refreshTokens = createRefreshTokenStore(db, config.refreshTokens, now);
  const revocations = createAccessTokenRevocations(db, now);
  const throttle = createLoginThrottle(db, config.login, now);
  return [
    { name: 'refresh_tokens', purge: (q, limit) => refreshTokens.purge(q, keepSeconds, limit) },
    { name: 'revoked_access_tokens', purge: (q, limit) => revocations.purge(q, config.keys.clockSkewSeconds, limit) },
    { name: 'login_attempts', purge: (q, limit) => throttle.purge(q, limit) },
    // Spent DPoP proof ids are needed only while their proof could still be accepted.
    { name: 'dpop_proof_jtis', purge: (q, limit) => createDpopReplayStore(q).purge(q, now(), limit) },
    // A spent jti is needed only while its assertion could still be accepted (exp + clock skew).
    { name: 'spent_client_assertions', purge: (q, limit) => createSpentAssertions(db, now).purge(q, config.keys.clockSkewSeconds, limit) },
  ];
}

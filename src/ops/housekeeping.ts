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
  purge(q: Queryable): Promise<number>;
}

export interface Housekeeping {
  /** One pass over every task, by whichever instance gets the lock; undefined when another has it. */
  runOnce(): Promise<Record<string, number> | undefined>;
  start(intervalSeconds: number, onError?: (err: unknown) => void): void;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

/**
 * Deletes rows nobody needs any more (expired refresh tokens, old revocations, forgotten login
 * failures) so no table grows without bound. Every instance runs the timer; a try-lock lets one
 * of them do each pass and the others skip it.
 */
export function createHousekeeping(db: Database, tasks: PurgeTask[]): Housekeeping {
  let passes: Periodic | undefined;
  const runOnce = () =>
    db.transaction(async (tx) => {
      const lock = await tx.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [LOCKS.housekeeping]);
      if (!lock.rows[0]?.ok) return undefined;
      const purged: Record<string, number> = {};
      for (const task of tasks) purged[task.name] = await task.purge(tx);
      return purged;
    });
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
    { name: 'refresh_tokens', purge: (q) => refreshTokens.purge(q, keepSeconds) },
    { name: 'revoked_access_tokens', purge: (q) => revocations.purge(q, config.keys.clockSkewSeconds) },
    { name: 'login_attempts', purge: (q) => throttle.purge(q) },
    // Spent DPoP proof ids are needed only while their proof could still be accepted.
    { name: 'dpop_proof_jtis', purge: (q) => createDpopReplayStore(q).purge(q, now()) },
    // A spent jti is needed only while its assertion could still be accepted (exp + clock skew).
    { name: 'spent_client_assertions', purge: (q) => createSpentAssertions(db, now).purge(q, config.keys.clockSkewSeconds) },
  ];
}

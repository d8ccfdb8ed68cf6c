import type { Config } from '../config.js';
import type { Database, Queryable } from '../db/database.js';
import { LOCKS } from '../db/locks.js';
import { createDpopReplayStore } from '../tokens/dpop-proof-jtis.js';
import { createAccessTokenRevocations } from '../tokens/access-token-revocations.js';
import { createRefreshTokenStore } from '../tokens/refresh-tokens.js';
import { createLoginThrottle } from '../users/login-throttle.js';
import { createSpentAssertions } from '../clients/spent-assertions.js';
import { type Periodic, runEvery } from '../periodic.js';

export interface PurgeStep {
  deleted: number;
  /** Where the next batch of this pass starts (the task's own cursor); undefined: the task is done. */
  next: number | undefined;
}

export interface PurgeTask {
  name: string;
  /** One batch: deletes at most about `limit` rows nobody needs any more, from `from` on (undefined at the start of a pass). */
  purge(q: Queryable, limit: number, from: number | undefined): Promise<PurgeStep>;
}

/** A task that deletes the oldest rows first is done when a batch finds fewer than it may delete. */
const untilFewer = (limit: number) => (deleted: number): PurgeStep => ({ deleted, next: deleted >= limit ? 0 : undefined });
const walked = ({ deleted, nextPage }: { deleted: number; nextPage: number | undefined }): PurgeStep => ({ deleted, next: nextPage });

/**
 * Rows one purge transaction deletes at most. Small enough that a batch takes milliseconds (its
 * row locks, WAL burst and, on the embedded database, its hold on the only connection stay short),
 * large enough that a pass over a million expired rows is a thousand statements, not a million.
 * Tables walked in physical order (those with a BRIN index only) take about limit / 32 pages a batch.
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
  const batch = (task: PurgeTask, from: number | undefined) =>
    db.transaction(async (tx) => {
      // Custom plans for the batch (src/db/batched-delete.ts), in the lock's round trip.
      const lock = await tx.query<{ ok: boolean }>(
        "select pg_try_advisory_xact_lock($1) as ok, set_config('plan_cache_mode', 'force_custom_plan', true)",
        [LOCKS.housekeeping],
      );
      return lock.rows[0]?.ok ? task.purge(tx, batchRows, from) : undefined;
    });
  const runOnce = async () => {
    const purged: Record<string, number> = Object.fromEntries(tasks.map((task) => [task.name, 0]));
    let first = true;
    for (const task of tasks) {
      let from: number | undefined;
      do {
        const step = await batch(task, from);
        if (step === undefined) return first ? undefined : purged;
        first = false;
        purged[task.name] = (purged[task.name] ?? 0) + step.deleted;
        from = step.next;
      } while (from !== undefined);
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
    // Tokens first: a token never outlives its family, so by the time an expired family goes its
    // tokens are mostly gone, and the family's delete trigger has little left to do.
    { name: 'refresh_tokens', purge: async (q, limit, from) => walked(await refreshTokens.purgeTokens(q, keepSeconds, limit, from)) },
    { name: 'refresh_token_families', purge: async (q, limit) => untilFewer(limit)(await refreshTokens.purgeFamilies(q, keepSeconds, limit)) },
    { name: 'revoked_access_tokens', purge: async (q, limit) => untilFewer(limit)(await revocations.purge(q, config.keys.clockSkewSeconds, limit)) },
    { name: 'login_attempts', purge: async (q, limit) => untilFewer(limit)(await throttle.purge(q, limit)) },
    // Spent DPoP proof ids are needed only while their proof could still be accepted.
    { name: 'dpop_proof_jtis', purge: async (q, limit, from) => walked(await createDpopReplayStore(q).purge(q, now(), limit, from)) },
    // A spent jti is needed only while its assertion could still be accepted (exp + clock skew).
    {
      name: 'spent_client_assertions',
      purge: async (q, limit, from) => walked(await createSpentAssertions(db, now).purge(q, config.keys.clockSkewSeconds, limit, from)),
    },
  ];
}

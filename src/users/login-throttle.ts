import { checkLimit, deleteBatch } from '../db/batched-delete.js';
import type { Database, Queryable } from '../db/database.js';

// Forgotten failures, the oldest first (src/db/batched-delete.ts).
const PURGE = `with gone as (
  delete from login_attempts where ctid = any (array(
    select ctid from login_attempts where last_failure_at < $1 and (locked_until is null or locked_until < $2)
    order by last_failure_at limit $3))
  returning 1)
select count(*)::int as n from gone`;

export interface LoginThrottleSettings {
  /** Failures from one address for one username before that pair is locked out. */
  maxFailuresPerAddress: number;
  /** Failures for one username, from all addresses, before the username is locked out. */
  maxFailuresPerUser: number;
  /** First lock-out; each further failure doubles it. */
  baseLockoutSeconds: number;
  maxLockoutSeconds: number;
  /** A quiet period after which the failures are forgotten. */
  failureWindowSeconds: number;
}

export interface LoginState {
  /** Seconds until the next attempt may run, or 0. */
  waitSeconds: number;
  /** Failures of this username or pair are on record: a successful login should clear them. */
  hasFailures: boolean;
}

export interface LoginThrottle {
  recordFailure(username: string, address: string): Promise<void>;
  /** Clears the failures (call it only when the login's lookup found some: it is a write). */
  recordSuccess(username: string, address: string): Promise<void>;
  /** Deletes at most `limit` rows whose failures are forgotten and whose lock-out is over, the oldest first; returns how many. */
  purge(q: Queryable, limit: number): Promise<number>;
}

interface AttemptRow {
  failures: number;
  last_failure_at: Date;
  locked_until: Date | null;
}

// Keys never hold the raw username twice in different cases: "Alice" and "alice" are one account.
const normal = (username: string) => username.normalize('NFC').toLowerCase();
const userKey = (username: string) => `u:${normal(username)}`;
const pairKey = (username: string, address: string) => `a:${address}|${normal(username)}`;

/** The rows that can lock a login out: the username's, and the (username, address) pair's. */
export const attemptKeys = (username: string, address: string): string[] => [userKey(username), pairKey(username, address)];

/** The login state from those rows: the latest lock-out among them, and whether any exist. */
export function loginState(rows: { latestLock: Date | null; count: number }, now: Date): LoginState {
  const until = rows.latestLock ? new Date(rows.latestLock).getTime() : 0;
  return { waitSeconds: until > now.getTime() ? Math.ceil((until - now.getTime()) / 1000) : 0, hasFailures: rows.count > 0 };
}

/**
 * Brute-force protection for the password grant, kept in the database so every instance shares it.
 *
 * Each (username, address) pair locks after `maxFailuresPerAddress` failures, for a lock-out that
 * doubles with every further failure up to `maxLockoutSeconds`; never permanent. The username as a
 * whole locks after `maxFailuresPerUser` failures, but one address adds at most
 * `maxFailuresPerAddress` of them, so nobody can lock a user out everywhere from a single address.
 */
export function createLoginThrottle(db: Database, s: LoginThrottleSettings, now: () => Date = () => new Date()): LoginThrottle {
  const lockout = (failures: number, threshold: number) =>
    failures < threshold ? 0 : Math.min(s.maxLockoutSeconds, s.baseLockoutSeconds * 2 ** Math.min(30, failures - threshold));

  return {
    async recordFailure(username, address) {
      const t = now();
      const forgetBefore = new Date(t.getTime() - s.failureWindowSeconds * 1000);
      await db.transaction(async (tx) => {
        const bump = async (key: string, threshold: number) => {
          const current = (
            await tx.query<AttemptRow>(
              'select failures, last_failure_at, locked_until from login_attempts where key = $1 for update',
              [key],
            )
          ).rows[0];
          const failures = current && new Date(current.last_failure_at) >= forgetBefore ? current.failures + 1 : 1;
          const seconds = lockout(failures, threshold);
          const lockedUntil = seconds > 0 ? new Date(t.getTime() + seconds * 1000) : null;
          await tx.query(
            `insert into login_attempts (key, failures, last_failure_at, locked_until) values ($1, $2, $3, $4)
             on conflict (key) do update set failures = $2, last_failure_at = $3, locked_until = $4`,
            [key, failures, t, lockedUntil],
          );
          return failures;
        };
        const fromThisAddress = await bump(pairKey(username, address), s.maxFailuresPerAddress);
        if (fromThisAddress <= s.maxFailuresPerAddress) await bump(userKey(username), s.maxFailuresPerUser);
      });
    },

    async recordSuccess(username, address) {
      await db.query('delete from login_attempts where key = any($1::text[])', [attemptKeys(username, address)]);
    },

    purge(q, limit) {
      const t = now();
      checkLimit(limit);
      return deleteBatch(q, PURGE, [new Date(t.getTime() - s.failureWindowSeconds * 1000), t, limit]);
    },
  };
}

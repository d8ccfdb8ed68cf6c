import type { Queryable } from '../db/database.js';
import { attemptKeys, type LoginState, loginState } from './login-throttle.js';
import { EFFECTIVE_SCOPES_OF_U, ROLE_NAMES_OF_U } from './permissions-sql.js';
import { toUser, type User, USER_COLUMNS_OF_U, type UserRow } from './user-repository.js';

/** The user as a login needs her: her row, her role names and her effective scopes (roles ∪ direct). */
export interface LoginUser extends User {
  roles: string[];
  effectiveScopes: string[];
}

export interface LoginLookup {
  /**
   * What a password login needs before any hashing: the lock-out state of the username and of the
   * (username, address) pair, and the user (case-insensitive) with her permissions, or undefined.
   */
  find(username: string, address: string): Promise<LoginState & { user: LoginUser | undefined }>;
}

/**
 * One statement instead of two (the lock-out check, then the user): a login's event-loop CPU is
 * mostly node-postgres and the wake-up of each round trip (docs/benchmarks.md, the password target).
 * The user's roles and effective scopes ride along as subqueries, so permissions cost no round
 * trip either. It always returns one row: the attempts' aggregate, and the user's columns or nulls.
 */
export function createLoginLookup(db: Queryable, now: () => Date = () => new Date()): LoginLookup {
  return {
    async find(username, address) {
      const r = await db.query<
        Partial<UserRow> & { latest_lock: Date | null; attempts: number; roles: string[]; effective_scopes: string[] }
      >(
        `select ${USER_COLUMNS_OF_U}, a.latest_lock, a.attempts,
                ${ROLE_NAMES_OF_U} as roles, ${EFFECTIVE_SCOPES_OF_U} as effective_scopes
         from (select max(locked_until) as latest_lock, count(*)::int as attempts from login_attempts where key = any($2::text[])) a
         left join users u on lower(u.username) = lower($1)`,
        [username, attemptKeys(username, address)],
      );
      const row = r.rows[0];
      if (!row) throw new Error('the login lookup returned no row');
      const state = loginState({ latestLock: row.latest_lock, count: row.attempts }, now());
      const user = row.id ? { ...toUser(row as UserRow), roles: row.roles, effectiveScopes: row.effective_scopes } : undefined;
      return { ...state, user };
    },
  };
}

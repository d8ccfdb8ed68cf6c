import type { Queryable } from '../db/database.js';
import { ConflictError, isUniqueViolation } from '../db/errors.js';
import { ROLE_NAMES_OF_U } from './permissions-sql.js';

export interface User {
  id: string;
  username: string;
  /** Null: the user has no password and cannot log in with one. */
  passwordHash: string | null;
  disabled: boolean;
  /** Scopes held directly (her roles' scopes come on top). */
  scopes: string[];
  /** Bumped on every change to the user or to her roles (ETag, If-Match). */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A user with the names of the roles she holds. */
export interface UserWithRoles extends User {
  roles: string[];
}

export interface UserRow {
  id: string;
  username: string;
  password_hash: string | null;
  disabled: boolean;
  scopes: string[];
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, username, password_hash, disabled, scopes, version, created_at, updated_at';
/** The same columns from a table aliased `u`, for statements that join users (login-lookup.ts). */
export const USER_COLUMNS_OF_U = COLUMNS.split(', ').map((c) => `u.${c}`).join(', ');
const WITH_ROLES = `${USER_COLUMNS_OF_U}, ${ROLE_NAMES_OF_U} as roles`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID.test(id);

export const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  disabled: r.disabled,
  scopes: r.scopes,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const withRoles = (r: UserRow & { roles: string[] }): UserWithRoles => ({ ...toUser(r), roles: r.roles });

/** A user as the CLI names her (username, case-insensitive) or as the admin API does (id). */
export type UserRef = { id: string } | { username: string };

export interface UserPageQuery {
  limit: number;
  /** lower(username) of the last user of the previous page. */
  after?: string | undefined;
  /** Usernames starting with this, case-insensitively. */
  usernamePrefix?: string | undefined;
  /** Only holders of this role. */
  roleId?: string | undefined;
}

/**
 * Plain SQL over users and user_roles. Every method runs on the Queryable it was made with, so a
 * service makes one over its transaction to group several of them atomically.
 */
export interface UserRepository {
  insert(user: { username: string; passwordHash: string | null; scopes?: string[]; disabled?: boolean }): Promise<User>;
  /** Case-insensitive, as usernames are unique regardless of case. */
  findByUsername(username: string): Promise<User | undefined>;
  findById(id: string): Promise<User | undefined>;
  /** The user with her role names; `forUpdate` locks her row until the transaction ends. */
  find(ref: UserRef, o?: { forUpdate?: boolean }): Promise<UserWithRoles | undefined>;
  /** Ordered by lower(username): `limit + 1` rows at most, the extra one telling of a next page. */
  page(q: UserPageQuery): Promise<(UserWithRoles & { sortKey: string })[]>;
  setPasswordHash(id: string, passwordHash: string | null): Promise<void>;
  update(id: string, changes: { scopes?: string[] | undefined; disabled?: boolean | undefined }): Promise<void>;
  /** Makes `roleIds` the user's roles: removes the others, adds the missing ones. */
  setRoles(id: string, roleIds: string[]): Promise<void>;
  delete(id: string): Promise<boolean>;
}

export function createUserRepository(db: Queryable): UserRepository {
  const one = async (sql: string, params: unknown[]) => {
    const row = (await db.query<UserRow>(sql, params)).rows[0];
    return row && toUser(row);
  };
  return {
    async insert({ username, passwordHash, scopes = [], disabled = false }) {
      try {
        const r = await db.query<UserRow>(
          `insert into users (username, password_hash, scopes, disabled) values ($1, $2, $3, $4) returning ${COLUMNS}`,
          [username, passwordHash, scopes, disabled],
        );
        return toUser(r.rows[0] as UserRow);
      } catch (err) {
        // The only unique rule on users: the username, regardless of case.
        if (isUniqueViolation(err)) throw new ConflictError('a user with this username already exists');
        throw err;
      }
    },
    findByUsername: (username) => one(`select ${COLUMNS} from users where lower(username) = lower($1)`, [username]),
    findById: async (id) => (isUuid(id) ? one(`select ${COLUMNS} from users where id = $1`, [id]) : undefined),
    async find(ref, o = {}) {
      if ('id' in ref && !isUuid(ref.id)) return undefined;
      const where = 'id' in ref ? 'u.id = $1' : 'lower(u.username) = lower($1)';
      const r = await db.query<UserRow & { roles: string[] }>(
        `select ${WITH_ROLES} from users u where ${where}${o.forUpdate ? ' for update of u' : ''}`,
        ['id' in ref ? ref.id : ref.username],
      );
      const row = r.rows[0];
      return row && withRoles(row);
    },
    async page({ limit, after, usernamePrefix, roleId }) {
      const r = await db.query<UserRow & { roles: string[]; sort_key: string }>(
        `select ${WITH_ROLES}, lower(u.username) as sort_key from users u
         where ($1::text is null or lower(u.username) > $1)
           and ($2::text is null or starts_with(lower(u.username), lower($2)))
           and ($3::uuid is null or exists (select 1 from user_roles ur where ur.user_id = u.id and ur.role_id = $3))
         order by lower(u.username)
         limit $4`,
        [after ?? null, usernamePrefix ?? null, roleId ?? null, limit + 1],
      );
      return r.rows.map((row) => ({ ...withRoles(row), sortKey: row.sort_key }));
    },
    async setPasswordHash(id, passwordHash) {
      await db.query('update users set password_hash = $2 where id = $1', [id, passwordHash]);
    },
    async update(id, { scopes, disabled }) {
      if (scopes === undefined && disabled === undefined) return;
      await db.query('update users set scopes = coalesce($2, scopes), disabled = coalesce($3, disabled) where id = $1', [
        id,
        scopes ?? null,
        disabled ?? null,
      ]);
    },
    async setRoles(id, roleIds) {
      // Two statements that each change only what differs, so an unchanged role list bumps nothing.
      await db.query('delete from user_roles where user_id = $1 and not (role_id = any($2::uuid[]))', [id, roleIds]);
      await db.query(
        `insert into user_roles (user_id, role_id) select $1, r from unnest($2::uuid[]) r
         on conflict do nothing`,
        [id, roleIds],
      );
    },
    async delete(id) {
      if (!isUuid(id)) return false;
      return (await db.query('delete from users where id = $1 returning id', [id])).rows.length > 0;
    },
  };
}

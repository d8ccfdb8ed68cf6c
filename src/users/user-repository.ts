import type { Queryable } from '../db/database.js';
import { ConflictError, isUniqueViolation } from '../db/errors.js';

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, username, password_hash, disabled, created_at, updated_at';
/** The same columns from a table aliased `u`, for statements that join users (login-lookup.ts). */
export const USER_COLUMNS_OF_U = COLUMNS.split(', ').map((c) => `u.${c}`).join(', ');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  disabled: r.disabled,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export interface UserRepository {
  insert(user: { username: string; passwordHash: string }): Promise<User>;
  /** Case-insensitive, as usernames are unique regardless of case. */
  findByUsername(username: string): Promise<User | undefined>;
  findById(id: string): Promise<User | undefined>;
  list(): Promise<User[]>;
  setPasswordHash(id: string, passwordHash: string): Promise<void>;
  setDisabled(username: string, disabled: boolean): Promise<User | undefined>;
  delete(username: string): Promise<boolean>;
}

export function createUserRepository(db: Queryable): UserRepository {
  const one = async (sql: string, params: unknown[]) => {
    const row = (await db.query<UserRow>(sql, params)).rows[0];
    return row && toUser(row);
  };
  return {
    async insert({ username, passwordHash }) {
      try {
        const r = await db.query<UserRow>(
          `insert into users (username, password_hash) values ($1, $2) returning ${COLUMNS}`,
          [username, passwordHash],
        );
        return toUser(r.rows[0] as UserRow);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('a user with this username already exists');
        throw err;
      }
    },
    findByUsername: (username) => one(`select ${COLUMNS} from users where lower(username) = lower($1)`, [username]),
    findById: async (id) => (UUID.test(id) ? one(`select ${COLUMNS} from users where id = $1`, [id]) : undefined),
    async list() {
      const r = await db.query<UserRow>(`select ${COLUMNS} from users order by lower(username)`);
      return r.rows.map(toUser);
    },
    async setPasswordHash(id, passwordHash) {
      await db.query('update users set password_hash = $2, updated_at = now() where id = $1', [id, passwordHash]);
    },
    setDisabled: (username, disabled) =>
      one(
        `update users set disabled = $2, updated_at = now() where lower(username) = lower($1) returning ${COLUMNS}`,
        [username, disabled],
      ),
    async delete(username) {
      const r = await db.query('delete from users where lower(username) = lower($1) returning id', [username]);
      return r.rows.length > 0;
    },
  };
}

import type { Queryable } from '../db/database.js';

export interface ImportRow {
  username: string;
  passwordHash: string;
  disabled: boolean;
}

export interface UserImportRepository {
  /** The database's clock now: rows written by this import run are those updated since. */
  clock(): Promise<Date>;
  /**
   * Which of these usernames already exist (case-insensitively), keyed by the name as given, with
   * whether the row was written since `since` (by this run: an earlier line of the same file).
   */
  existing(usernames: string[], since: Date): Promise<Map<string, { sinceRun: boolean }>>;
  /** Inserts the rows in one statement; returns the usernames (as given) that were inserted. */
  insert(rows: ImportRow[]): Promise<Set<string>>;
  /** Overwrites hash and disabled flag of existing users; returns the usernames (as given) updated. */
  update(rows: ImportRow[]): Promise<Set<string>>;
}

const names = (r: { rows: { username: string }[] }) => new Set(r.rows.map((x) => x.username));

/** Multi-row statements over unnest'ed arrays: one round trip and one plan per batch, whatever its size. */
export function createUserImportRepository(db: Queryable): UserImportRepository {
  return {
    async clock() {
      return (await db.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]?.now as Date;
    },
    async existing(usernames, since) {
      const r = await db.query<{ username: string; since_run: boolean }>(
        // A lookup per name through the unique index, whatever the statistics say: with none yet
        // (a table that grows during the import, autovacuum off) PostgreSQL would otherwise scan
        // the whole table for each batch, and the import would slow down as it goes.
        `select v.username, u.updated_at >= $2 as since_run
           from unnest($1::text[]) as v(username)
           cross join lateral (select updated_at from users where lower(username) = lower(v.username) limit 1) u`,
        [usernames, since],
      );
      return new Map(r.rows.map((x) => [x.username, { sinceRun: x.since_run }]));
    },
    async insert(rows) {
      if (rows.length === 0) return new Set();
      // A user created meanwhile by someone else is left alone, and reported by its absence.
      const r = await db.query<{ username: string }>(
        `insert into users (username, password_hash, disabled)
         select * from unnest($1::text[], $2::text[], $3::boolean[])
         on conflict (lower(username)) do nothing
         returning username`,
        [rows.map((x) => x.username), rows.map((x) => x.passwordHash), rows.map((x) => x.disabled)],
      );
      return names(r);
    },
    async update(rows) {
      if (rows.length === 0) return new Set();
      const r = await db.query<{ username: string }>(
        `update users u set password_hash = v.password_hash, disabled = v.disabled, updated_at = now()
           from (select v.*, x.id
                   from unnest($1::text[], $2::text[], $3::boolean[]) as v(username, password_hash, disabled)
                   cross join lateral (select id from users where lower(username) = lower(v.username) limit 1) x) v
          where u.id = v.id
         returning v.username`,
        [rows.map((x) => x.username), rows.map((x) => x.passwordHash), rows.map((x) => x.disabled)],
      );
      return names(r);
    },
  };
}

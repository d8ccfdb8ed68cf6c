import type { Queryable } from '../db/database.js';

export interface ImportRow {
  username: string;
  passwordHash: string;
  disabled: boolean;
  /** Direct scopes; undefined on an update leaves hers as they are (none for a new user). */
  scopes?: string[] | undefined;
  /** Ids of the roles she holds; undefined on an update leaves hers as they are (none for a new user). */
  roleIds?: string[] | undefined;
}

export interface UserImportRepository {
  /** The database's clock now: rows written by this import run are those updated since. */
  clock(): Promise<Date>;
  /** Role ids by lower(name), for the names (any case) that name an existing role. */
  roleIds(names: string[]): Promise<Map<string, string>>;
  /**
   * Which of these usernames already exist (case-insensitively), keyed by the name as given, with
   * whether the row was written since `since` (by this run: an earlier line of the same file).
   */
  existing(usernames: string[], since: Date): Promise<Map<string, { sinceRun: boolean }>>;
  /**
   * Inserts the rows, with their scopes and roles, in one statement (so never a user without her
   * roles); returns the usernames (as given) that were inserted. A name taken already is left out.
   */
  insert(rows: ImportRow[]): Promise<Set<string>>;
  /** Overwrites hash, disabled flag and (when given) scopes and roles of existing users; returns the usernames (as given) updated. */
  update(rows: ImportRow[]): Promise<Set<string>>;
}

const names = (r: { rows: { username: string }[] }) => new Set(r.rows.map((x) => x.username));

// Lists travel as one space-separated text per row, as unnest cannot take ragged text[][]: scope
// tokens (RFC 6749 §3.3) and uuids hold no space. A null is "not given".
const joined = (xs: string[] | undefined) => (xs === undefined ? null : xs.join(' '));
const split = (column: string) => `string_to_array(${column}, ' ')`;

/** Multi-row statements over unnest'ed arrays: one round trip and one plan per batch, whatever its size. */
export function createUserImportRepository(db: Queryable): UserImportRepository {
  return {
    async clock() {
      return (await db.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]?.now as Date;
    },
    async roleIds(roleNames) {
      const r = await db.query<{ key: string; id: string }>(
        'select lower(name) as key, id from roles where lower(name) = any(select lower(n) from unnest($1::text[]) n)',
        [roleNames],
      );
      return new Map(r.rows.map((x) => [x.key, x.id]));
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
      const params = [rows.map((x) => x.username), rows.map((x) => x.passwordHash), rows.map((x) => x.disabled)];
      const withScopes = rows.some((x) => x.scopes?.length);
      const withRoles = rows.some((x) => x.roleIds?.length);
      if (!withScopes && !withRoles) {
        // The common case, kept to the plainest statement: the import's speed is this insert's.
        // A user created meanwhile by someone else is left alone, and reported by its absence.
        const r = await db.query<{ username: string }>(
          `insert into users (username, password_hash, disabled)
           select * from unnest($1::text[], $2::text[], $3::boolean[])
           on conflict (lower(username)) do nothing
           returning username`,
          params,
        );
        return names(r);
      }
      // Users and their roles in one statement; the FK checks and user_roles' trigger run at its end.
      const r = await db.query<{ username: string }>(
        `with v as (
           select * from unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::text[])
             as v(username, password_hash, disabled, scopes, role_ids)
         ), ins as (
           insert into users (username, password_hash, disabled, scopes)
           select username, password_hash, disabled, coalesce(${split('scopes')}, '{}') from v
           on conflict (lower(username)) do nothing
           returning id, username
         ), granted as (
           insert into user_roles (user_id, role_id)
           select ins.id, r.id::uuid from ins join v using (username) cross join unnest(${split('v.role_ids')}) r(id)
         )
         select username from ins`,
        [...params, rows.map((x) => joined(x.scopes)), rows.map((x) => joined(x.roleIds))],
      );
      return names(r);
    },
    async update(rows) {
      if (rows.length === 0) return new Set();
      // Roles given replace hers: those not named are taken, the new ones granted (a role she
      // keeps is neither, so the statement's two user_roles changes never touch the same row).
      const r = await db.query<{ username: string }>(
        `with v as (
           select v.*, x.id
             from unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::text[])
               as v(username, password_hash, disabled, scopes, role_ids)
             cross join lateral (select id from users where lower(username) = lower(v.username) limit 1) x
         ), upd as (
           update users u
              set password_hash = v.password_hash, disabled = v.disabled,
                  scopes = coalesce(${split('v.scopes')}, u.scopes), updated_at = now()
             from v
            where u.id = v.id
           returning u.id, v.username, ${split('v.role_ids')}::uuid[] as role_ids
         ), taken as (
           delete from user_roles ur using upd
            where ur.user_id = upd.id and upd.role_ids is not null and ur.role_id <> all (upd.role_ids)
         ), granted as (
           insert into user_roles (user_id, role_id)
           select upd.id, unnest(upd.role_ids) from upd
           on conflict do nothing
         )
         select username from upd`,
        [
          rows.map((x) => x.username),
          rows.map((x) => x.passwordHash),
          rows.map((x) => x.disabled),
          rows.map((x) => joined(x.scopes)),
          rows.map((x) => joined(x.roleIds)),
        ],
      );
      return names(r);
    },
  };
}

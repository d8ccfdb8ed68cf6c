import type { Queryable } from '../db/database.js';
import { ConflictError, isUniqueViolation } from '../db/errors.js';
import { isUuid } from './user-repository.js';

/** A named set of scopes that users hold. */
export interface Role {
  id: string;
  /** Unique regardless of case; stored as written. */
  name: string;
  scopes: string[];
  /** Bumped on every change (ETag, If-Match). */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

interface RoleRow {
  id: string;
  name: string;
  scopes: string[];
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, scopes, version, created_at, updated_at';
const toRole = (r: RoleRow): Role => ({
  id: r.id,
  name: r.name,
  scopes: r.scopes,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** A role as the CLI names it (its name, case-insensitive) or by id. */
export type RoleRef = { id: string } | { name: string };

const DUPLICATE = 'a role with this name already exists';

export interface RoleRepository {
  insert(role: { name: string; scopes: string[] }): Promise<Role>;
  /** `forUpdate` locks the row until the transaction ends. */
  find(ref: RoleRef, o?: { forUpdate?: boolean }): Promise<Role | undefined>;
  /** The roles of these names (case-insensitive), in no particular order; unknown names are left out. */
  findByNames(names: string[]): Promise<Role[]>;
  /** Ordered by lower(name): `limit + 1` rows at most, the extra one telling of a next page. */
  page(q: { limit: number; after?: string | undefined }): Promise<(Role & { sortKey: string })[]>;
  update(id: string, changes: { name?: string | undefined; scopes?: string[] | undefined }): Promise<Role | undefined>;
  delete(id: string): Promise<boolean>;
}

export function createRoleRepository(db: Queryable): RoleRepository {
  const unique = async <T>(run: () => Promise<T>) => {
    try {
      return await run();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(DUPLICATE);
      throw err;
    }
  };
  return {
    insert: ({ name, scopes }) =>
      unique(async () => {
        const r = await db.query<RoleRow>(`insert into roles (name, scopes) values ($1, $2) returning ${COLUMNS}`, [name, scopes]);
        return toRole(r.rows[0] as RoleRow);
      }),
    async find(ref, o = {}) {
      if ('id' in ref && !isUuid(ref.id)) return undefined;
      const where = 'id' in ref ? 'id = $1' : 'lower(name) = lower($1)';
      const r = await db.query<RoleRow>(`select ${COLUMNS} from roles where ${where}${o.forUpdate ? ' for update' : ''}`, [
        'id' in ref ? ref.id : ref.name,
      ]);
      const row = r.rows[0];
      return row && toRole(row);
    },
    async findByNames(names) {
      if (names.length === 0) return [];
      const r = await db.query<RoleRow>(
        `select ${COLUMNS} from roles where lower(name) = any(select lower(n) from unnest($1::text[]) n)`,
        [names],
      );
      return r.rows.map(toRole);
    },
    async page({ limit, after }) {
      const r = await db.query<RoleRow & { sort_key: string }>(
        `select ${COLUMNS}, lower(name) as sort_key from roles where ($1::text is null or lower(name) > $1)
         order by lower(name) limit $2`,
        [after ?? null, limit + 1],
      );
      return r.rows.map((row) => ({ ...toRole(row), sortKey: row.sort_key }));
    },
    update: (id, { name, scopes }) =>
      unique(async () => {
        const r = await db.query<RoleRow>(
          `update roles set name = coalesce($2, name), scopes = coalesce($3, scopes) where id = $1 returning ${COLUMNS}`,
          [id, name ?? null, scopes ?? null],
        );
        const row = r.rows[0];
        return row && toRole(row);
      }),
    async delete(id) {
      return (await db.query('delete from roles where id = $1 returning id', [id])).rows.length > 0;
    },
  };
}

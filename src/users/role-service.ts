import { z } from 'zod';
import type { Database } from '../db/database.js';
import { NotFoundError, PreconditionFailedError } from '../db/errors.js';
import { decodeCursor, type Page, type PageRequest, pageSize, toPage } from '../db/pagination.js';
import { parseInput, RoleNameSchema, ScopesSchema } from './input.js';
import { createRoleRepository, type Role, type RoleRef } from './role-repository.js';
import type { Expect } from './user-service.js';

export type { Role, RoleRef } from './role-repository.js';

const NewRoleSchema = z.object({ name: RoleNameSchema, scopes: ScopesSchema.default([]) });
const ChangesSchema = z.object({ name: RoleNameSchema.optional(), scopes: ScopesSchema.optional() });

export interface NewRole {
  name: string;
  scopes?: string[] | undefined;
}

/** Any subset; scopes replace the stored list. A rename keeps every holder. */
export interface RoleChanges {
  name?: string | undefined;
  scopes?: string[] | undefined;
}

/**
 * Roles for the CLI and the admin API. A change to a role's scopes is felt by its holders at their
 * next login or refresh. Errors: InvalidInputError (with `field`), ConflictError (a taken name,
 * regardless of case), NotFoundError, PreconditionFailedError (a stale expected version).
 */
export interface RoleService {
  create(input: NewRole): Promise<Role>;
  get(ref: RoleRef): Promise<Role>;
  /** Ordered by lower(name); `next` is the cursor of the following page, or null. */
  list(query?: PageRequest): Promise<Page<Role>>;
  update(ref: RoleRef, changes: RoleChanges, o?: Expect): Promise<Role>;
  /** Deletes the role; its holders simply lose it. Returns it as it was. */
  delete(ref: RoleRef, o?: Expect): Promise<Role>;
}

const NOT_FOUND = 'no such role';

export function createRoleService(db: Database): RoleService {
  const roles = createRoleRepository(db);

  const locked = async (repo: ReturnType<typeof createRoleRepository>, ref: RoleRef, o: Expect | undefined) => {
    const role = await repo.find(ref, { forUpdate: true });
    if (!role) throw new NotFoundError(NOT_FOUND);
    if (o?.expectedVersion !== undefined && role.version !== o.expectedVersion) {
      throw new PreconditionFailedError('the role was changed since that version was read');
    }
    return role;
  };

  return {
    async create(input) {
      return roles.insert(parseInput(NewRoleSchema, input));
    },
    async get(ref) {
      const role = await roles.find(ref);
      if (!role) throw new NotFoundError(NOT_FOUND);
      return role;
    },
    async list(query = {}) {
      const limit = pageSize(query.limit);
      const rows = await roles.page({ limit, after: decodeCursor(query.after) });
      const page = toPage(rows, limit, (r) => r.sortKey);
      return { items: page.items.map(({ sortKey: _, ...r }) => r), next: page.next };
    },
    async update(ref, changes, o) {
      const c = parseInput(ChangesSchema, changes);
      return db.transaction(async (tx) => {
        const repo = createRoleRepository(tx);
        const role = await locked(repo, ref, o);
        if (c.name === undefined && c.scopes === undefined) return role;
        return (await repo.update(role.id, c)) as Role;
      });
    },
    delete: (ref, o) =>
      db.transaction(async (tx) => {
        const repo = createRoleRepository(tx);
        const role = await locked(repo, ref, o);
        await repo.delete(role.id);
        return role;
      }),
  };
}

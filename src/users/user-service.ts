import { z } from 'zod';
import type { Database, Queryable } from '../db/database.js';
import { InvalidInputError, NotFoundError, PreconditionFailedError } from '../db/errors.js';
import { decodeCursor, type Page, type PageRequest, pageSize, toPage } from '../db/pagination.js';
import { parseInput, RoleNameSchema, RoleNamesSchema, ScopesSchema } from './input.js';
import { MAX_PASSWORD_LENGTH, type PasswordHasher } from './passwords.js';
import { createRoleRepository } from './role-repository.js';
import { createUserRepository, type UserRef, type UserWithRoles } from './user-repository.js';

export type { UserRef } from './user-repository.js';

export const UsernameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');

const PasswordSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`);

const NewUserSchema = z.object({
  username: UsernameSchema,
  password: PasswordSchema.nullish(),
  roles: RoleNamesSchema.default([]),
  scopes: ScopesSchema.default([]),
  disabled: z.boolean().default(false),
});

const ChangesSchema = z.object({
  roles: RoleNamesSchema.optional(),
  scopes: ScopesSchema.optional(),
  disabled: z.boolean().optional(),
});

// Keyed as the admin API names the filters, so an InvalidInputError's field is theirs.
const ListSchema = z.object({
  username_prefix: z.string().min(1, 'must not be empty').max(255, 'is too long').optional(),
  role: RoleNameSchema.optional(),
});

/** A user as the CLI and the admin API show her: never her password hash. */
export interface UserAccount {
  id: string;
  username: string;
  /** Without a password she cannot log in with the password grant. */
  hasPassword: boolean;
  disabled: boolean;
  /** Names of the roles she holds, sorted case-insensitively. */
  roles: string[];
  /** Scopes she holds directly, sorted. */
  scopes: string[];
  /** Bumped on every change to her or her roles: the admin API's ETag. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewUser {
  username: string;
  /** Omitted or null: a user who cannot log in by password until one is set. */
  password?: string | null | undefined;
  /** Names of existing roles (case-insensitive). */
  roles?: string[] | undefined;
  scopes?: string[] | undefined;
  disabled?: boolean | undefined;
}

/** Any subset; what is given replaces what is stored (roles and scopes as whole lists). */
export interface UserChanges {
  roles?: string[] | undefined;
  scopes?: string[] | undefined;
  disabled?: boolean | undefined;
}

export interface UserListQuery extends PageRequest {
  /** Usernames starting with this, case-insensitively. */
  usernamePrefix?: string | undefined;
  /** Only holders of this role (by name, case-insensitive); an unknown role lists nobody. */
  role?: string | undefined;
}

/** When given, the change applies only to this version of the user, else PreconditionFailedError. */
export interface Expect {
  expectedVersion?: number | undefined;
}

/**
 * The one user service under the CLI and the admin API. Every change runs in one transaction
 * (nothing half-written); passwords are hashed before it begins, so no transaction waits on argon2.
 * Errors: InvalidInputError (with `field`), ConflictError (a taken username), NotFoundError,
 * PreconditionFailedError (a stale expected version).
 */
export interface UserService {
  create(input: NewUser): Promise<UserAccount>;
  get(ref: UserRef): Promise<UserAccount>;
  /** Ordered by lower(username); `next` is the cursor of the following page, or null. */
  list(query?: UserListQuery): Promise<Page<UserAccount>>;
  update(ref: UserRef, changes: UserChanges, o?: Expect): Promise<UserAccount>;
  /** A new password (null: none, so no password login). */
  setPassword(ref: UserRef, password: string | null, o?: Expect): Promise<UserAccount>;
  /** Deletes her, her roles and her refresh-token families; returns her as she was. */
  delete(ref: UserRef, o?: Expect): Promise<UserAccount>;
}

export const toAccount = ({ passwordHash, ...u }: UserWithRoles): UserAccount => ({ ...u, hasPassword: passwordHash !== null });

const NOT_FOUND = 'no such user';

/** The ids of the named roles; an unknown name is invalid input naming its place in `roles`. */
async function roleIds(q: Queryable, names: string[]): Promise<string[]> {
  const found = await createRoleRepository(q).findByNames(names);
  const byName = new Map(found.map((r) => [r.name.toLowerCase(), r.id]));
  return names.map((name, i) => {
    const id = byName.get(name.toLowerCase());
    if (!id) throw new InvalidInputError(`roles[${i}] names no existing role`, { field: 'roles' });
    return id;
  });
}

function checkVersion(user: { version: number }, o: Expect | undefined) {
  if (o?.expectedVersion !== undefined && user.version !== o.expectedVersion) {
    throw new PreconditionFailedError('the user was changed since that version was read');
  }
}

export function createUserService(db: Database, hasher: PasswordHasher): UserService {
  const users = createUserRepository(db);

  /** Locks the user, checks the version, runs `change`, and returns her as she is then. */
  const changeUser = (ref: UserRef, o: Expect | undefined, change: (tx: Queryable, user: UserWithRoles) => Promise<void>) =>
    db.transaction(async (tx) => {
      const repo = createUserRepository(tx);
      const user = await repo.find(ref, { forUpdate: true });
      if (!user) throw new NotFoundError(NOT_FOUND);
      checkVersion(user, o);
      await change(tx, user);
      return toAccount((await repo.find({ id: user.id })) as UserWithRoles);
    });

  const hash = (password: string | null) =>
    password === null ? null : hasher.hash(parseInput(z.object({ password: PasswordSchema }), { password }).password);

  return {
    async create(input) {
      const u = parseInput(NewUserSchema, input);
      const passwordHash = u.password == null ? null : await hasher.hash(u.password);
      return db.transaction(async (tx) => {
        const ids = await roleIds(tx, u.roles);
        const repo = createUserRepository(tx);
        const user = await repo.insert({ username: u.username, passwordHash, scopes: u.scopes, disabled: u.disabled });
        if (ids.length) await repo.setRoles(user.id, ids);
        return toAccount((await repo.find({ id: user.id })) as UserWithRoles);
      });
    },

    async get(ref) {
      const user = await users.find(ref);
      if (!user) throw new NotFoundError(NOT_FOUND);
      return toAccount(user);
    },

    async list(query = {}) {
      const limit = pageSize(query.limit);
      const after = decodeCursor(query.after);
      const q = parseInput(ListSchema, { username_prefix: query.usernamePrefix, role: query.role });
      let roleId: string | undefined;
      if (q.role !== undefined) {
        roleId = (await createRoleRepository(db).find({ name: q.role }))?.id;
        if (!roleId) return { items: [], next: null };
      }
      const rows = await users.page({ limit, after, usernamePrefix: q.username_prefix, roleId });
      const page = toPage(rows, limit, (u) => u.sortKey);
      return { items: page.items.map(({ sortKey: _, ...u }) => toAccount(u)), next: page.next };
    },

    async update(ref, changes, o) {
      const c = parseInput(ChangesSchema, changes);
      return changeUser(ref, o, async (tx, user) => {
        const repo = createUserRepository(tx);
        if (c.roles) await repo.setRoles(user.id, await roleIds(tx, c.roles));
        await repo.update(user.id, { scopes: c.scopes, disabled: c.disabled });
      });
    },

    async setPassword(ref, password, o) {
      const passwordHash = await hash(password);
      return changeUser(ref, o, (tx, user) => createUserRepository(tx).setPasswordHash(user.id, passwordHash));
    },

    delete: (ref, o) =>
      db.transaction(async (tx) => {
        const repo = createUserRepository(tx);
        const user = await repo.find(ref, { forUpdate: true });
        if (!user) throw new NotFoundError(NOT_FOUND);
        checkVersion(user, o);
        await repo.delete(user.id);
        return toAccount(user);
      }),
  };
}

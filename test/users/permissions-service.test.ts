import t from 'tap';
import { ConflictError, InvalidInputError, NotFoundError, PreconditionFailedError } from '../../src/db/errors.js';
import { createPasswordHasher } from '../../src/users/passwords.js';
import { createRoleService } from '../../src/users/role-service.js';
import { createUserService } from '../../src/users/user-service.js';
import { createTestDatabase } from '../helpers/db.js';

const PARAMS = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

async function services(t: { teardown(fn: () => unknown): void }) {
  const { db } = await createTestDatabase(t);
  return { db, roles: createRoleService(db), users: createUserService(db, createPasswordHasher(PARAMS)) };
}

t.test('roles: create, get by name regardless of case, rename, change scopes, delete', async (t) => {
  const { roles } = await services(t);
  const editor = await roles.create({ name: 'photo-editor', scopes: ['photos:upload', 'photos:read', 'photos:read'] });
  t.match(editor, { name: 'photo-editor', scopes: ['photos:read', 'photos:upload'], version: 1, id: /^[0-9a-f-]{36}$/ });
  t.same(await roles.get({ name: 'PHOTO-Editor' }), editor, 'names are found regardless of case');
  t.same(await roles.get({ id: editor.id }), editor);
  await t.rejects(roles.get({ id: 'not-a-uuid' }), NotFoundError);
  await t.rejects(roles.get({ name: 'nobody' }), NotFoundError);

  await t.rejects(roles.create({ name: 'Photo-Editor' }), ConflictError, 'unique regardless of case');
  await t.rejects(roles.create({ name: '' }), { name: 'InvalidInputError', field: 'name' });
  await t.rejects(roles.create({ name: 'has space' }), { name: 'InvalidInputError', field: 'name' });
  await t.rejects(roles.create({ name: 'x'.repeat(65) }), { name: 'InvalidInputError', field: 'name' });
  const bad = await roles.create({ name: 'ok', scopes: ['fine', 'not"fine'] }).catch((e: unknown) => e);
  t.type(bad, InvalidInputError);
  t.match(bad, { field: 'scopes', message: 'scopes[1] is not a valid scope token (RFC 6749 §3.3)' }, 'names the item, not its value');

  const renamed = await roles.update({ name: 'photo-editor' }, { name: 'Photo-Editor' });
  t.match(renamed, { name: 'Photo-Editor', version: 2 }, 'a rename to another case of itself is no conflict');
  const narrowed = await roles.update({ id: editor.id }, { scopes: ['photos:read'] }, { expectedVersion: 2 });
  t.match(narrowed, { scopes: ['photos:read'], version: 3 });
  await t.rejects(roles.update({ id: editor.id }, { scopes: [] }, { expectedVersion: 2 }), PreconditionFailedError, 'a stale version changes nothing');
  t.same((await roles.get({ id: editor.id })).scopes, ['photos:read']);
  await roles.create({ name: 'viewer' });
  await t.rejects(roles.update({ name: 'viewer' }, { name: 'photo-editor' }), ConflictError, 'a rename onto a taken name');

  await t.rejects(roles.delete({ id: editor.id }, { expectedVersion: 1 }), PreconditionFailedError);
  t.match(await roles.delete({ name: 'photo-editor' }, { expectedVersion: 3 }), { id: editor.id });
  await t.rejects(roles.delete({ id: editor.id }), NotFoundError);
});

t.test('users: roles and direct scopes, all written in one transaction or not at all', async (t) => {
  const { db, roles, users } = await services(t);
  await roles.create({ name: 'photo-editor', scopes: ['photos:read', 'photos:upload'] });
  await roles.create({ name: 'viewer', scopes: ['photos:read'] });

  const alice = await users.create({ username: 'alice', password: 'pw-alice', roles: ['Photo-Editor', 'viewer', 'VIEWER'], scopes: ['b', 'a'] });
  t.match(alice, { username: 'alice', roles: ['photo-editor', 'viewer'], scopes: ['a', 'b'], disabled: false, hasPassword: true });
  t.notOk('passwordHash' in alice, 'never the hash');

  const unknown = await users.create({ username: 'bob', password: 'pw-bob', roles: ['viewer', 'ghost'] }).catch((e: unknown) => e);
  t.match(unknown, { name: 'InvalidInputError', field: 'roles', message: 'roles[1] names no existing role' });
  await t.rejects(users.create({ username: 'bob', scopes: ['ok', ''] }), { name: 'InvalidInputError', field: 'scopes' });
  await t.rejects(users.create({ username: 'bob', roles: 'viewer' as unknown as string[] }), { name: 'InvalidInputError', field: 'roles' });
  await t.rejects(users.create({ username: 'alice', roles: ['viewer'] }), ConflictError);
  const counts = await db.query<{ users: number; holdings: number }>(
    'select (select count(*)::int from users) as users, (select count(*)::int from user_roles) as holdings',
  );
  t.same(counts.rows[0], { users: 1, holdings: 2 }, 'no failed create left a user or a role behind');

  const noPassword = await users.create({ username: 'carol' });
  t.match(noPassword, { hasPassword: false, roles: [], scopes: [] }, 'a user may have no password');
  t.match(await users.setPassword({ id: noPassword.id }, 'pw-carol'), { hasPassword: true, version: 2 });
  t.match(await users.setPassword({ id: noPassword.id }, null), { hasPassword: false, version: 3 });

  const v1 = alice.version;
  const changed = await users.update({ id: alice.id }, { roles: ['viewer'] }, { expectedVersion: v1 });
  t.same(changed.roles, ['viewer']);
  t.ok(changed.version > v1, 'a change of roles is a new version of the user');
  await t.rejects(users.update({ id: alice.id }, { disabled: true }, { expectedVersion: v1 }), PreconditionFailedError);
  t.equal((await users.get({ id: alice.id })).disabled, false, 'the stale update changed nothing');
  const bad = users.update({ id: alice.id }, { scopes: ['x'], roles: ['ghost'] }, { expectedVersion: changed.version });
  await t.rejects(bad, { name: 'InvalidInputError', field: 'roles' });
  t.same((await users.get({ id: alice.id })).scopes, ['a', 'b'], 'a refused update wrote none of its parts');

  const same = await users.update({ id: alice.id }, {}, {});
  t.equal(same.version, changed.version, 'an empty change is no new version');
  const disabled = await users.update({ username: 'ALICE' }, { disabled: true, scopes: [] });
  t.match(disabled, { disabled: true, scopes: [], roles: ['viewer'] });

  const before = disabled.version;
  await roles.delete({ name: 'viewer' });
  const after = await users.get({ id: alice.id });
  t.same(after.roles, [], 'deleting a role takes it from its holders');
  t.ok(after.version > before, "and is a new version of each holder (her representation changed)");

  await t.rejects(users.delete({ id: alice.id }, { expectedVersion: before }), PreconditionFailedError);
  await users.delete({ id: alice.id }, { expectedVersion: after.version });
  await t.rejects(users.get({ id: alice.id }), NotFoundError);
});

t.test('lists: cursor pages over more rows than a page, filters by prefix and role, a stable order', async (t) => {
  const { db, roles, users } = await services(t);
  await roles.create({ name: 'editor', scopes: ['e'] });
  // Plain inserts, so the test spends no argon2 time; every third user is an editor.
  await db.query(`insert into users (username) select 'user-' || lpad(i::text, 3, '0') from generate_series(1, 25) i`);
  await db.query(`insert into users (username) values ('Zed'), ('alpha')`);
  await db.query(
    `insert into user_roles (user_id, role_id) select u.id, (select id from roles) from users u
     where u.username like 'user-%' and substring(u.username from 6)::int % 3 = 0`,
  );

  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await users.list({ limit: 4, after });
    t.ok(page.items.length <= 4);
    seen.push(...page.items.map((u) => u.username));
    after = page.next ?? undefined;
    pages++;
  } while (after && pages < 20);
  t.equal(pages, 7, '27 users in pages of 4');
  t.equal(seen.length, 27);
  t.same(seen, [...seen].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())), 'ordered by lower(username)');
  t.equal(seen[0], 'alpha');
  t.equal(seen.at(-1), 'Zed', 'case-insensitive order');
  t.equal(new Set(seen).size, 27, 'no user twice, none skipped');

  const editors = await users.list({ role: 'EDITOR', limit: 200 });
  t.same(editors.items.map((u) => u.username), ['user-003', 'user-006', 'user-009', 'user-012', 'user-015', 'user-018', 'user-021', 'user-024']);
  t.ok(editors.items.every((u) => u.roles.includes('editor')));
  t.equal(editors.next, null, 'the last page has no next');
  t.same((await users.list({ role: 'ghost' })).items, [], 'an unknown role lists nobody');

  const prefixed = await users.list({ usernamePrefix: 'USER-01', limit: 3 });
  t.same(prefixed.items.map((u) => u.username), ['user-010', 'user-011', 'user-012']);
  const rest = await users.list({ usernamePrefix: 'user-01', limit: 10, after: prefixed.next ?? undefined });
  t.same(rest.items.map((u) => u.username), ['user-013', 'user-014', 'user-015', 'user-016', 'user-017', 'user-018', 'user-019']);
  t.same((await users.list({ usernamePrefix: '%' })).items, [], 'LIKE wildcards are plain characters');

  await t.rejects(users.list({ limit: 0 }), { name: 'InvalidInputError', field: 'limit' });
  await t.rejects(users.list({ limit: 201 }), { name: 'InvalidInputError', field: 'limit' });
  await t.rejects(users.list({ limit: 1.5 }), { name: 'InvalidInputError', field: 'limit' });
  await t.rejects(users.list({ after: 'garbage!' }), { name: 'InvalidInputError', field: 'after' });
  await t.rejects(users.list({ after: Buffer.from('k2:x').toString('base64url') }), { name: 'InvalidInputError', field: 'after' });
  await t.rejects(users.list({ role: 'bad name' }), { name: 'InvalidInputError', field: 'role' });

  for (let i = 0; i < 7; i++) await roles.create({ name: `role-${i}` });
  const first = await roles.list({ limit: 5 });
  t.same(first.items.map((r) => r.name), ['editor', 'role-0', 'role-1', 'role-2', 'role-3']);
  const second = await roles.list({ limit: 5, after: first.next ?? undefined });
  t.same(second.items.map((r) => r.name), ['role-4', 'role-5', 'role-6']);
  t.equal(second.next, null);
});

t.test('the database refuses bad permission rows itself', async (t) => {
  const { db } = await createTestDatabase(t);
  await t.rejects(db.query(`insert into roles (name, scopes) values ('r', array['a b'])`), { code: '23514' }, 'a scope with a space');
  await t.rejects(db.query(`insert into roles (name, scopes) values ('r', array[null]::text[])`), { code: '23514' });
  await t.rejects(db.query(`insert into roles (name) values ('-r')`), { code: '23514' });
  await db.query(`insert into roles (name) values ('Ops')`);
  await t.rejects(db.query(`insert into roles (name) values ('ops')`), { code: '23505' });
  await t.rejects(db.query(`insert into users (username, scopes) values ('u', array['"quoted"'])`), { code: '23514' });
  await db.query(`insert into users (username) values ('u')`);
  await t.rejects(db.query(`insert into user_roles (user_id, role_id) values ((select id from users), gen_random_uuid())`), { code: '23503' });
  const version = async () => (await db.query<{ version: number }>('select version from users')).rows[0]?.version;
  t.equal(await version(), 1);
  await db.query(`update users set disabled = true`);
  t.equal(await version(), 2, 'any update, even plain SQL, is a new version');
  await db.query(`insert into user_roles (user_id, role_id) select u.id, r.id from users u, roles r`);
  t.equal(await version(), 3, 'so is a role granted');
  await db.query('delete from users');
  t.equal((await db.query<{ n: number }>('select count(*)::int as n from user_roles')).rows[0]?.n, 0, 'holdings go with the user');
});

t.test('two changes naming the same version at once: exactly one wins, the other is refused', async (t) => {
  const { roles, users } = await services(t);
  await roles.create({ name: 'a' });
  await roles.create({ name: 'b' });
  const zoe = await users.create({ username: 'zoe' });
  const results = await Promise.allSettled(
    ['a', 'b', 'a', 'b'].map((role) => users.update({ id: zoe.id }, { roles: [role] }, { expectedVersion: zoe.version })),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  t.equal(won.length, 1, 'one update applied');
  t.ok(
    results.every((r) => r.status === 'fulfilled' || r.reason instanceof PreconditionFailedError),
    'the others were refused as stale',
  );
  const winner = won[0]?.status === 'fulfilled' ? won[0].value : undefined;
  t.same((await users.get({ id: zoe.id })).roles, winner?.roles, 'what is stored is the winner’s');

  const role = await roles.get({ name: 'a' });
  const renames = await Promise.allSettled(['x1', 'x2', 'x3'].map((name) => roles.update({ id: role.id }, { name }, { expectedVersion: role.version })));
  t.equal(renames.filter((r) => r.status === 'fulfilled').length, 1, 'the same for roles');
});

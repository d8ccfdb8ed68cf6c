import { Readable } from 'node:stream';
import bcrypt from 'bcrypt';
import t, { type Test } from 'tap';
import type { Database, TransactionScope } from '../../src/db/database.js';
import { createPasswordHasher } from '../../src/users/passwords.js';
import { createUserImporter, type ImportOptions } from '../../src/users/user-import.js';
import { buildTestApp } from '../helpers/app.js';
import { recordSecret } from '../helpers/secret-scan.js';

// Issue 16: an import line may carry `roles` (existing ones, by name) and `scopes`; they are
// written with the user, in the same statement, and her token carries them.

type App = Awaited<ReturnType<typeof buildTestApp>>;

const jsonl = (lines: (object | string)[]) => Readable.from([lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')]);

/** The app's real database, counting the statements sent through it (transaction control aside). */
function counting(db: Database) {
  const counter = { statements: 0 };
  const count = <Q extends Pick<Database, 'query'>>(q: Q) => ({
    query: ((sql: string, params?: unknown[]) => {
      counter.statements++;
      return q.query(sql, params);
    }) as Database['query'],
  });
  const wrapped: Database = {
    ...db,
    ...count(db),
    transaction: (fn) => db.transaction((tx) => fn({ ...tx, ...count(tx) } as TransactionScope)),
  };
  return { db: wrapped, counter };
}

const run = (app: App, lines: (object | string)[], o: ImportOptions & { batchSize?: number; db?: Database } = {}) =>
  createUserImporter(o.db ?? app.db, createPasswordHasher(app.config.argon2), o).run(jsonl(lines), o);

async function setup(t: Test) {
  const app = await buildTestApp(t);
  await app.seed.role('photo-editor', ['photos:read', 'photos:upload']);
  await app.seed.role('viewer', ['photos:read']);
  const client = await app.seed.client({ grantTypes: ['password'], scopes: ['photos:read', 'photos:upload', 'profile'] });
  const password = 'imported users old password';
  recordSecret(password);
  const hash = await bcrypt.hash(password, 4);
  const login = (username: string) =>
    app.token({ grant_type: 'password', username, password, client_id: client.clientId, client_secret: client.secret });
  const holds = async (username: string) => {
    const u = await app.users.get({ username });
    return { roles: u.roles, scopes: u.scopes };
  };
  return { app, hash, login, holds };
}

t.test("roles and scopes come in with the user, and her token carries client ∩ what she holds", async (t) => {
  const { app, hash, login, holds } = await setup(t);
  const summary = await run(app, [
    { username: 'alice', password_hash: hash, roles: ['photo-editor'], scopes: ['profile', 'billing'] },
    { username: 'bob', password_hash: hash, roles: ['viewer', 'ghost'] },
    { username: 'carol', password_hash: hash, scopes: ['photos:read', 'bad scope'] },
    { username: 'dave', password_hash: hash, roles: ['VIEWER', 'viewer'], scopes: ['profile', 'profile'] },
    { username: 'erin', password_hash: hash, roles: 'viewer' },
    { username: 'frank', password_hash: hash, scopes: ['a"b'] },
    { username: 'gina', password_hash: hash, roles: ['no spaces allowed'] },
    { username: 'hal', password_hash: hash, roles: [], scopes: [] },
  ]);
  t.match(summary, { imported: 3, rejected: 5 });
  t.same(summary.rejections, [
    { line: 2, reason: 'roles[1] names no existing role' },
    { line: 3, reason: 'scopes[1] is not a valid scope token (RFC 6749 §3.3)' },
    { line: 5, reason: 'roles: invalid' },
    { line: 6, reason: 'scopes[0] is not a valid scope token (RFC 6749 §3.3)' },
    { line: 7, reason: 'roles[0] must be 1 to 64 letters, digits or . _ : - (starting with a letter or digit)' },
  ]);
  for (const name of ['bob', 'carol', 'erin', 'frank', 'gina']) {
    t.equal((await app.db.query('select 1 from users where username = $1', [name])).rows.length, 0, `${name}: no user without her roles`);
  }
  t.same(await holds('alice'), { roles: ['photo-editor'], scopes: ['billing', 'profile'] });
  t.same(await holds('dave'), { roles: ['viewer'], scopes: ['profile'] }, 'role names match regardless of case, each once');
  t.same(await holds('hal'), { roles: [], scopes: [] });

  const alice = await login('alice');
  t.equal(alice.statusCode, 200, alice.body);
  t.equal(alice.json().scope, 'photos:read photos:upload profile', 'client ∩ (her scopes ∪ her role’s)');
  const claims = await app.verify(alice.json().access_token);
  t.same(claims.roles, ['photo-editor']);
  t.equal((await login('dave')).json().scope, 'photos:read profile');
  t.equal((await login('hal')).json().scope, undefined, 'nothing in common: no scope');
});

t.test('--on-conflict update replaces the roles and scopes a line gives, and keeps those it does not', async (t) => {
  const { app, hash, login, holds } = await setup(t);
  await run(app, [
    { username: 'alice', password_hash: hash, roles: ['photo-editor'], scopes: ['profile'] },
    { username: 'dave', password_hash: hash, roles: ['viewer', 'photo-editor'], scopes: ['profile'] },
    { username: 'erin', password_hash: hash, roles: ['viewer'] },
  ]);
  const versions = async () => (await app.db.query<{ v: number }>('select version as v from users order by username')).rows.map((r) => r.v);
  const before = await versions();
  const update = await run(
    app,
    [
      { username: 'alice', password_hash: hash, roles: ['viewer'], scopes: [] },
      { username: 'dave', password_hash: hash, disabled: true },
      { username: 'erin', password_hash: hash, roles: ['viewer', 'photo-editor'], scopes: ['profile'] },
      { username: 'fay', password_hash: hash, roles: ['ghost'] },
    ],
    { onConflict: 'update' },
  );
  t.match(update, { updated: 3, imported: 0, rejected: 1 });
  t.same(update.rejections, [{ line: 4, reason: 'roles[0] names no existing role' }]);
  t.same(await holds('alice'), { roles: ['viewer'], scopes: [] }, 'replaced as given');
  t.same(await holds('dave'), { roles: ['photo-editor', 'viewer'], scopes: ['profile'] }, 'no roles or scopes on the line: kept');
  t.same(await holds('erin'), { roles: ['photo-editor', 'viewer'], scopes: ['profile'] }, 'a role kept and one added');
  t.ok((await versions()).every((v, i) => v > (before[i] as number)), 'every updated user has a new version (ETag)');
  t.equal((await login('alice')).json().scope, 'photos:read');

  const skip = await run(app, [{ username: 'alice', password_hash: hash, roles: ['photo-editor'] }]);
  t.match(skip, { skipped: 1 });
  t.same(await holds('alice'), { roles: ['viewer'], scopes: [] }, 'skip leaves her roles alone');
});

t.test('a dry run reports unknown roles and writes no roles', async (t) => {
  const { app, hash } = await setup(t);
  const dry = await run(app, [
    { username: 'alice', password_hash: hash, roles: ['viewer'] },
    { username: 'bob', password_hash: hash, roles: ['ghost'] },
  ], { dryRun: true });
  t.match(dry, { imported: 1, rejected: 1 });
  t.equal((await app.db.query('select 1 from user_roles')).rows.length, 0);
});

t.test('the roles of a batch cost a constant number of statements, and a refused grant takes its user with it', async (t) => {
  const { app, hash, holds } = await setup(t);
  const lines = Array.from({ length: 200 }, (_, i) => ({
    username: `user-${i}`,
    password_hash: hash,
    roles: i % 2 ? ['viewer'] : ['photo-editor', 'viewer'],
    scopes: [`s${i}`],
  }));
  const { db, counter } = counting(app.db);
  const summary = await run(app, lines, { db, batchSize: 200 });
  t.match(summary, { imported: 200, rejected: 0 });
  t.ok(counter.statements <= 3, `one batch of 200 users with roles took ${counter.statements} statements (clock, roles, insert)`);
  t.same(await holds('user-7'), { roles: ['viewer'], scopes: ['s7'] });
  t.same(await holds('user-8'), { roles: ['photo-editor', 'viewer'], scopes: ['s8'] });

  // A rule on user_roles the line checks do not know: the batch falls back to row by row, and
  // the user whose grant is refused is not written at all.
  const editor = (await app.roles.get({ name: 'photo-editor' })).id;
  await app.db.query(`alter table user_roles add constraint no_editors check (role_id <> '${editor}') not valid`);
  const refused = await run(app, [
    { username: 'kim', password_hash: hash, roles: ['viewer'] },
    { username: 'lee', password_hash: hash, roles: ['viewer', 'photo-editor'] },
    { username: 'max', password_hash: hash },
  ]);
  t.match(refused, { imported: 2, rejected: 1 });
  t.same(refused.rejections, [{ line: 2, reason: 'the database refused the user (no_editors)' }]);
  t.equal((await app.db.query("select 1 from users where username = 'lee'")).rows.length, 0, 'never a user without her roles');
  t.same(await holds('kim'), { roles: ['viewer'], scopes: [] });
});

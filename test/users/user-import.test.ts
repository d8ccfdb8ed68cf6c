import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import t from 'tap';
import { readLineBatches } from '../../src/users/jsonl-lines.js';
import { createPasswordHasher } from '../../src/users/passwords.js';
import { createUserImporter, type ImportOptions } from '../../src/users/user-import.js';
import { buildTestApp } from '../helpers/app.js';
import { recordSecret } from '../helpers/secret-scan.js';

type App = Awaited<ReturnType<typeof buildTestApp>>;

const jsonl = (lines: (object | string)[]) =>
  Readable.from([lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')]);

function django(password: string, iterations: number, salt = randomBytes(9).toString('hex')) {
  return `pbkdf2_sha256$${iterations}$${salt}$${pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64')}`;
}

function importer(app: App, o: { batchSize?: number; maxLineBytes?: number } = {}) {
  return createUserImporter(app.db, createPasswordHasher(app.config.argon2), o);
}

const run = (app: App, lines: (object | string)[], o: ImportOptions & { batchSize?: number } = {}) =>
  importer(app, o).run(jsonl(lines), o);

async function hashOf(app: App, username: string) {
  const r = await app.db.query<{ password_hash: string }>('select password_hash from users where username = $1', [username]);
  return r.rows[0]?.password_hash;
}

async function login(app: App, client: { clientId: string; secret: string }, username: string, password: string) {
  return app.token({ grant_type: 'password', username, password, client_id: client.clientId, client_secret: client.secret });
}

const countUsers = async (app: App) => Number((await app.db.query<{ n: string }>('select count(*) as n from users')).rows[0]?.n);

t.test('every hash format logs in with the old password and is rehashed to argon2id', async (t) => {
  const app = await buildTestApp(t);
  const client = await app.seed.client({ grantTypes: ['password'] });
  const pw = (name: string) => {
    const p = `old password of ${name} ${randomBytes(6).toString('hex')}`;
    recordSecret(p);
    return p;
  };
  const users: { username: string; password: string; line: Record<string, unknown>; weak: boolean }[] = [];
  const add = (username: string, make: (p: string) => Promise<string> | string, weak: boolean) => async () => {
    const password = pw(username);
    users.push({ username, password, line: { username, password_hash: await make(password) }, weak });
  };
  await add('argon2id-other-params', (p) => argon2.hash(p, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1 }), false)();
  await add('argon2i', (p) => argon2.hash(p, { type: argon2.argon2i, memoryCost: 8192, timeCost: 2 }), false)();
  await add('bcrypt-2b', (p) => bcrypt.hash(p, 4), true)();
  await add('bcrypt-2a', async (p) => (await bcrypt.hash(p, 4)).replace(/^\$2b\$/, '$2a$'), true)();
  await add('bcrypt-2y', async (p) => (await bcrypt.hash(p, 4)).replace(/^\$2b\$/, '$2y$'), true)();
  await add('bcrypt-cost-10', (p) => bcrypt.hash(p, 10), false)();
  await add('django-pbkdf2', (p) => django(p, 1000), true)();
  const plain = pw('plain');
  const summary = await run(app, [...users.map((u) => u.line), { username: 'plain', password: plain }]);
  t.match(summary, { imported: users.length + 1, rejected: 0, skipped: 0, weak: users.filter((u) => u.weak).length });
  t.same(
    summary.weakLines.map((w) => w.line),
    users.flatMap((u, i) => (u.weak ? [i + 1] : [])),
    'weak hashes are reported by line',
  );
  t.match(summary.weakLines[0]?.reason, /bcrypt cost 4 is below 10/);
  t.match(summary.weakLines.at(-1)?.reason, /pbkdf2_sha256 with 1000 iterations is below 100000/);
  t.match(await hashOf(app, 'plain'), /^\$argon2id\$/, 'a plain password is stored as argon2id at once');
  t.equal((await login(app, client, 'plain', plain)).statusCode, 200);

  for (const u of users) {
    const imported = await hashOf(app, u.username);
    t.equal(imported, u.line.password_hash, `${u.username}: stored as given`);
    const wrong = await login(app, client, u.username, `${u.password}x`);
    t.equal(wrong.statusCode, 400, `${u.username}: a wrong password fails`);
    t.equal(wrong.json().error, 'invalid_grant');
    t.equal(await hashOf(app, u.username), imported, `${u.username}: a failed login changes nothing`);
    const ok = await login(app, client, u.username, u.password);
    t.equal(ok.statusCode, 200, `${u.username}: the old password logs in`);
    const rehashed = await hashOf(app, u.username);
    t.match(rehashed, /^\$argon2id\$v=19\$m=\d+,/, `${u.username}: rehashed to argon2id`);
    t.not(rehashed, imported);
    t.equal((await login(app, client, u.username, u.password)).statusCode, 200, `${u.username}: logs in after the rehash`);
    t.equal(await hashOf(app, u.username), rehashed, `${u.username}: no second rehash`);
  }
});

t.test('the legacy verifiers refuse what they cannot check, and an unknown user still costs argon2', async (t) => {
  const hasher = createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  t.same(await hasher.verify('md5$abc$def', 'x'), { ok: false, needsRehash: false });
  t.same(await hasher.verify('$2b$04$short', 'x'), { ok: false, needsRehash: false });
  t.same(await hasher.verify(django('right', 10), 'wrong'), { ok: false, needsRehash: false });
  t.same(await hasher.verify(django('right', 10), 'right'), { ok: true, needsRehash: true });
  const argon = await hasher.hash('same params');
  t.same(await hasher.verify(argon, 'same params'), { ok: true, needsRehash: false });
});

t.test('malformed lines and unknown formats are rejected by line number; the lines around them are imported', async (t) => {
  const app = await buildTestApp(t);
  const secret = 'a-secret-that-must-not-leak';
  recordSecret(secret);
  const good = await bcrypt.hash(secret, 4);
  const lines: (object | string)[] = [
    { username: 'first', password_hash: good },
    `{"username": "broken", "password": "${secret}"`,
    `["${secret}"]`,
    { password: secret },
    { username: 'ctl\u0001name', password: secret },
    { username: 'both', password: secret, password_hash: good },
    { username: 'neither' },
    { username: 'md5', password_hash: `md5$salt$${secret}` },
    { username: 'sha1', password_hash: `sha1$salt$${secret}` },
    { username: 'bcrypt-31', password_hash: good.replace('$04$', '$31$') },
    { username: 'bcrypt-cut', password_hash: good.slice(0, 40) },
    { username: 'django-bad', password_hash: `pbkdf2_sha256$abc$salt$${secret}` },
    { username: 'django-huge', password_hash: django(secret, 1).replace('$1$', '$99999999$') },
    { username: 'number', password: 12345 },
    { username: 'flag', password: secret, disabled: 'yes' },
    { username: 42, password: secret },
    { username: 'empty', password: '' },
    '',
    '   ',
    { username: 'last', password_hash: good, disabled: true },
  ];
  const summary = await run(app, lines);
  t.equal(summary.imported, 2);
  t.equal(summary.rejected, 16);
  t.equal(summary.lines, 20);
  t.same(
    summary.rejections.map((r) => r.line),
    [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    'blank lines are neither users nor errors',
  );
  const reasons = Object.fromEntries(summary.rejections.map((r) => [r.line, r.reason]));
  t.equal(reasons[2], 'not valid JSON');
  t.equal(reasons[3], 'not a JSON object');
  t.match(reasons[5], /control characters/);
  t.match(reasons[6], /either password or password_hash/);
  t.match(reasons[8], /unsupported password_hash format/);
  t.match(reasons[10], /bcrypt cost 31 is outside/);
  t.match(reasons[13], /iterations outside/);
  t.match(reasons[15], /disabled must be true or false/);
  for (const r of summary.rejections) {
    t.notOk(r.reason.includes(secret) || r.reason.includes('$2b$'), `line ${r.line}: the reason does not quote the line`);
    t.match(r.reason, /^[\x20-\x7e]+$/, `line ${r.line}: printable ASCII`);
  }
  const rows = await app.db.query<{ username: string; disabled: boolean }>('select username, disabled from users order by username');
  t.same(rows.rows, [
    { username: 'first', disabled: false },
    { username: 'last', disabled: true },
  ]);
});

t.test('duplicates in the file and in the database, with --on-conflict skip, update and fail', async (t) => {
  const app = await buildTestApp(t);
  await app.seed.user('alice', 'alice original password');
  const before = await hashOf(app, 'alice');
  const h1 = await bcrypt.hash('one', 4);
  const h2 = await bcrypt.hash('two', 4);
  const file = [
    { username: 'ALICE', password_hash: h1 },
    { username: 'bob', password_hash: h1 },
    { username: 'Bob', password_hash: h2 }, // the same batch as line 2
    { username: 'carol', password_hash: h1 },
    { username: 'BOB', password_hash: h2 }, // a later batch than line 2: found in the database
  ];
  const skip = await run(app, file, { batchSize: 3 });
  t.match(skip, { imported: 2, skipped: 1, rejected: 2, updated: 0 });
  t.same(
    skip.rejections.map((r) => r.line),
    [3, 5],
  );
  t.match(skip.rejections[0]?.reason, /earlier line of the file \(line 2\)/);
  t.match(skip.rejections[1]?.reason, /earlier line of the file/);
  t.equal(await hashOf(app, 'alice'), before, 'skip leaves the existing user alone');
  t.equal(await hashOf(app, 'bob'), h1, 'the first line of a name wins');

  // On a re-run every user exists from before: skipped, except a name repeated within one batch.
  const again = await run(app, file, { batchSize: 3 });
  t.match(again, { imported: 0, skipped: 4, rejected: 1 }, 'a re-run with skip imports nothing twice');
  t.equal(await hashOf(app, 'bob'), h1);

  const fail = await run(app, file, { onConflict: 'fail', batchSize: 3 });
  t.match(fail, { imported: 0, skipped: 0, rejected: 5 });
  t.match(fail.rejections[0]?.reason, /already exists/);

  const update = await run(app, [...file, { username: 'dave', password_hash: h2 }], { onConflict: 'update', batchSize: 3 });
  t.match(update, { imported: 1, updated: 3, rejected: 2, skipped: 0 });
  t.equal(await hashOf(app, 'alice'), h1, 'update overwrites the hash');
  t.equal(await hashOf(app, 'bob'), h1, 'a name repeated in the file is updated once, by its first line');
  t.equal(await countUsers(app), 4);
  t.same((await app.db.query<{ username: string }>("select username from users where lower(username) = 'alice'")).rows, [
    { username: 'alice' },
  ]);
});

t.test('a dry run checks everything and writes nothing', async (t) => {
  const app = await buildTestApp(t);
  await app.seed.user('alice', 'alice original password');
  const h = await bcrypt.hash('x', 4);
  const file = [
    { username: 'alice', password_hash: h },
    { username: 'bob', password: 'bob dry run password' },
    { username: 'BOB', password_hash: h },
    { username: 'eve', password_hash: 'md5$x$y' },
  ];
  recordSecret('bob dry run password');
  const dry = await run(app, file, { dryRun: true, batchSize: 1 });
  t.match(dry, { dryRun: true, imported: 1, skipped: 1, rejected: 2 });
  t.equal(await countUsers(app), 1, 'nothing written');
  const dryUpdate = await run(app, file, { dryRun: true, onConflict: 'update' });
  t.match(dryUpdate, { imported: 1, updated: 1, rejected: 2 });
  t.equal(await hashOf(app, 'bob'), undefined);
  const real = await run(app, file, { batchSize: 1 });
  t.match(real, { dryRun: false, imported: 1, skipped: 1, rejected: 2 }, 'the real run does what the dry run said');
});

t.test('a batch the database refuses is retried row by row: only the refused row is rejected', async (t) => {
  const app = await buildTestApp(t);
  // A rule the line checks do not know, as a DBA might add one.
  await app.db.query("alter table users add constraint no_zed check (username <> 'zed')");
  const h = await bcrypt.hash('x', 4);
  const summary = await run(app, ['a', 'b', 'zed', 'c'].map((username) => ({ username, password_hash: h })));
  t.match(summary, { imported: 3, rejected: 1 });
  t.same(summary.rejections, [{ line: 3, reason: 'the database refused the user (no_zed)' }]);
  t.equal(await countUsers(app), 3);
});

t.test('a huge line is rejected without being held in memory', async (t) => {
  const app = await buildTestApp(t);
  const h = await bcrypt.hash('x', 4);
  const mib = Buffer.alloc(1024 * 1024, 'a');
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  function* chunks() {
    yield Buffer.from(`${JSON.stringify({ username: 'before', password_hash: h })}\n{"username": "huge", "password": "`);
    for (let i = 0; i < 256; i++) {
      peak = Math.max(peak, process.memoryUsage().rss);
      yield mib;
    }
    yield Buffer.from(`"}\n${JSON.stringify({ username: 'after', password_hash: h })}\n`);
    for (let i = 0; i < 8; i++) yield mib; // a last line without a newline
  }
  const summary = await importer(app).run(Readable.from(chunks()));
  t.match(summary, { imported: 2, rejected: 2, lines: 4 });
  t.same(
    summary.rejections.map((r) => r.line),
    [2, 4],
  );
  t.match(summary.rejections[0]?.reason, /line longer than 65536 bytes/);
  t.ok(peak - rss0 < 128 * 1024 * 1024, `a 256 MiB line did not stay in memory (RSS grew ${Math.round((peak - rss0) / 2 ** 20)} MiB)`);
});

t.test('lines cut anywhere by chunk boundaries (mid UTF-8 character, between \\r and \\n) read the same', async (t) => {
  const text = '{"username": "jürgen"}\r\n{"username": "名前"}\n\n{"username": "zoë 🎈"}\r\n' + `${'x'.repeat(40)}\n` + 'last';
  const bytes = Buffer.from(text);
  const expected = [
    '{"username": "jürgen"}',
    '{"username": "名前"}',
    '',
    '{"username": "zoë 🎈"}',
    { tooLong: true },
    'last',
  ];
  const read = async (chunks: Buffer[]) => {
    const out: (string | { tooLong: true })[] = [];
    for await (const lines of readLineBatches(Readable.from(chunks), 32)) {
      for (const l of lines) out.push('tooLong' in l ? { tooLong: true } : l.text);
    }
    return out;
  };
  for (const size of [1, 2, 3, 5, 7, 64, bytes.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    t.same(await read(chunks), expected, `chunks of ${size} bytes`);
  }
});

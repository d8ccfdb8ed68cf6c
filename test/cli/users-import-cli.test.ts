import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import t from 'tap';
import { createCliSession, createCliTarget, runCli } from '../helpers/cli.js';
import { recordSecret } from '../helpers/secret-scan.js';

const toJsonl = (lines: object[]) => `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;

t.test('users import: summary, --json, --dry-run, --on-conflict, stdin, exit codes', async (t) => {
  const { cli } = await createCliSession(t);
  const dir = mkdtempSync(join(tmpdir(), 'sigil-import-'));
  const h = await bcrypt.hash('bob old password', 4);
  const plain = 'dave plain import password';
  recordSecret(plain, 'bob old password');
  const good = join(dir, 'good.jsonl');
  writeFileSync(good, toJsonl([{ username: 'bob', password_hash: h }, { username: 'dave', password: plain, disabled: true }]));

  const dry = await cli(['users', 'import', '--file', good, '--dry-run', '--json']);
  t.equal(dry.code, 0, dry.stderr);
  t.match(JSON.parse(dry.stdout), { dry_run: true, imported: 2, skipped: 0, rejected: 0, weak: 1 });
  const none = JSON.parse((await cli(['users', 'list', '--json'])).stdout);
  t.same(none, [], 'the dry run wrote nothing');

  const real = await cli(['users', 'import', '--file', good]);
  t.equal(real.code, 0, real.stderr);
  t.match(real.stdout, /^Imported 2 users, updated 0, skipped 0 existing, rejected 0 lines \(of 2\)\.\n1 imported with weak legacy hashes/);
  t.match(real.stdout, /line 1: bcrypt cost 4 is below 10/);
  const users = JSON.parse((await cli(['users', 'list', '--json'])).stdout);
  t.match(users, [{ username: 'bob', disabled: false }, { username: 'dave', disabled: true }]);

  const rerun = await cli(['users', 'import', '--file', '-', '--json'], { input: await import('node:fs').then((fs) => fs.readFileSync(good, 'utf8')) });
  t.equal(rerun.code, 0, 'skipping duplicates is not a failure');
  t.match(JSON.parse(rerun.stdout), { imported: 0, skipped: 2, rejected: 0 });

  const failing = await cli(['users', 'import', '--file', '-', '--on-conflict', 'fail', '--json'], { input: `${toJsonl([{ username: 'bob', password_hash: h }, { username: 'erin', password_hash: h }])}{"username": "md5", "password_hash": "md5$salt$abcdef"}\nnot json\n` });
  t.equal(failing.code, 1, 'a rejected line makes the exit status 1');
  const summary = JSON.parse(failing.stdout);
  t.match(summary, { imported: 1, skipped: 0, rejected: 3 });
  t.same(
    summary.rejections.map((r: { line: number }) => r.line),
    [1, 3, 4],
  );
  t.notOk(failing.stdout.includes('abcdef'), 'the hash is not quoted');

  const human = await cli(['users', 'import', '--file', '-'], { input: 'not json\n' });
  t.equal(human.code, 1);
  t.match(human.stderr, /^line 1: not valid JSON\n$/, 'rejected lines go to stderr as they are found');
  t.match(human.stdout, /rejected 1 lines/);

  const badMode = await cli(['users', 'import', '--file', good, '--on-conflict', 'merge']);
  t.equal(badMode.code, 1);
  t.match(badMode.stderr, /--on-conflict/);
  const missing = await cli(['users', 'import', '--file', join(dir, 'nope.jsonl')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^sigil: cannot read .*nope\.jsonl: ENOENT\n$/);
});

t.test('users import: roles and scopes per line; an unknown role is a rejected line', async (t) => {
  const { cli } = await createCliSession(t);
  t.equal((await cli(['roles', 'create', 'photo-editor', '--scope', 'photos:read photos:upload'])).code, 0);
  const h = await bcrypt.hash('erin old password', 4);
  recordSecret('erin old password');
  const res = await cli(['users', 'import', '--file', '-', '--json'], { input: toJsonl([
      { username: 'erin', password_hash: h, roles: ['Photo-Editor'], scopes: ['profile'] },
      { username: 'finn', password_hash: h, roles: ['ghost'] },
    ]) });
  t.equal(res.code, 1, 'a rejected line makes the exit status 1');
  t.match(JSON.parse(res.stdout), { imported: 1, rejected: 1, rejections: [{ line: 2, reason: 'roles[0] names no existing role' }] });
  const users = JSON.parse((await cli(['users', 'list', '--json'])).stdout);
  t.match(users, [{ username: 'erin', roles: ['photo-editor'], scopes: ['profile'] }]);
  t.equal(users.length, 1, 'no user for the rejected line');
});

t.test('the binary: a rejected line makes the process exit 1 after its summary', async (t) => {
  const { env } = await createCliTarget(t);
  const res = await runCli(['users', 'import', '--file', '-'], { env, input: 'not json\n' });
  t.equal(res.code, 1);
  t.equal(res.stderr, 'line 1: not valid JSON\n', 'nothing else on stderr: no warning, no trace');
  t.match(res.stdout, /rejected 1 lines/);
});

import t from 'tap';
import { createCliTarget, runCli } from '../helpers/cli.js';

t.test('users: create from stdin, list, set-password, disable, delete; failures', async (t) => {
  const { env } = await createCliTarget(t);
  const created = await runCli(['users', 'create', '--username', 'alice', '--password-stdin', '--json'], {
    env,
    input: 'correct horse battery staple\n',
  });
  t.equal(created.code, 0, created.stderr);
  const alice = JSON.parse(created.stdout);
  t.match(alice, { username: 'alice', disabled: false, id: /^[0-9a-f-]{36}$/ });
  t.notOk('password_hash' in alice);

  const dup = await runCli(['users', 'create', '--username', 'ALICE', '--password-stdin'], { env, input: 'x' });
  t.equal(dup.code, 1);
  t.match(dup.stderr, /^sigil: a user with this username already exists\n$/);

  const empty = await runCli(['users', 'create', '--username', 'bob', '--password-stdin'], { env, input: '\n' });
  t.equal(empty.code, 1);
  t.match(empty.stderr, /password must not be empty/);

  const noTty = await runCli(['users', 'create', '--username', 'bob'], { env });
  t.equal(noTty.code, 1);
  t.match(noTty.stderr, /--password-stdin/);

  const list = JSON.parse((await runCli(['users', 'list', '--json'], { env })).stdout);
  t.same(list.map((u: { username: string }) => u.username), ['alice'], 'failed creates wrote nothing');

  t.equal((await runCli(['users', 'set-password', 'alice', '--password-stdin'], { env, input: 'new one' })).code, 0);
  t.equal((await runCli(['users', 'set-password', 'zed', '--password-stdin'], { env, input: 'x' })).code, 1);
  t.equal(JSON.parse((await runCli(['users', 'disable', 'Alice', '--json'], { env })).stdout).disabled, true);
  t.equal(JSON.parse((await runCli(['users', 'enable', 'alice', '--json'], { env })).stdout).disabled, false);
  t.equal((await runCli(['users', 'delete', 'alice'], { env })).code, 0);
  t.equal((await runCli(['users', 'delete', 'alice'], { env })).code, 1);
});

t.test('migrate reports what it did', async (t) => {
  const { env } = await createCliTarget(t);
  const res = await runCli(['migrate', '--json'], { env });
  t.equal(res.code, 0, res.stderr);
  t.same(JSON.parse(res.stdout), { applied: [] }, 'the fresh database is already up to date');
});

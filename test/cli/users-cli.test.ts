import t from 'tap';
import { createCliSession } from '../helpers/cli.js';

t.test('users: create from stdin, list, set-password, disable, delete; failures', async (t) => {
  const { cli } = await createCliSession(t);
  const created = await cli(['users', 'create', '--username', 'alice', '--password-stdin', '--json'], { input: 'correct horse battery staple\n' });
  t.equal(created.code, 0, created.stderr);
  const alice = JSON.parse(created.stdout);
  t.match(alice, { username: 'alice', disabled: false, id: /^[0-9a-f-]{36}$/ });
  t.notOk('password_hash' in alice);

  const dup = await cli(['users', 'create', '--username', 'ALICE', '--password-stdin'], { input: 'x' });
  t.equal(dup.code, 1);
  t.match(dup.stderr, /^sigil: a user with this username already exists\n$/);

  const empty = await cli(['users', 'create', '--username', 'bob', '--password-stdin'], { input: '\n' });
  t.equal(empty.code, 1);
  t.match(empty.stderr, /password must not be empty/);

  const noTty = await cli(['users', 'create', '--username', 'bob']);
  t.equal(noTty.code, 1);
  t.match(noTty.stderr, /--password-stdin/);

  const list = JSON.parse((await cli(['users', 'list', '--json'])).stdout);
  t.same(list.map((u: { username: string }) => u.username), ['alice'], 'failed creates wrote nothing');

  t.equal((await cli(['users', 'set-password', 'alice', '--password-stdin'], { input: 'new one' })).code, 0);
  t.equal((await cli(['users', 'set-password', 'zed', '--password-stdin'], { input: 'x' })).code, 1);
  t.equal(JSON.parse((await cli(['users', 'disable', 'Alice', '--json'])).stdout).disabled, true);
  t.equal(JSON.parse((await cli(['users', 'enable', 'alice', '--json'])).stdout).disabled, false);
  t.equal((await cli(['users', 'delete', 'alice'])).code, 0);
  t.equal((await cli(['users', 'delete', 'alice'])).code, 1);
});

t.test('migrate reports what it did', async (t) => {
  const { cli } = await createCliSession(t);
  const res = await cli(['migrate', '--json']);
  t.equal(res.code, 0, res.stderr);
  t.same(JSON.parse(res.stdout), { applied: [] }, 'the fresh database is already up to date');
  t.equal((await cli(['migrate'])).stdout, 'The database is up to date.\n');
});

import t from 'tap';
import { createCliSession } from '../helpers/cli.js';

t.test('roles: create, list, show, update (replace, add, remove, rename), delete; failures are one line', async (t) => {
  const session = await createCliSession(t);
  const cli = (...args: string[]) => session.cli(args);

  const created = await cli('roles', 'create', 'photo-editor', '--scope', 'photos:read photos:upload', '--json');
  t.equal(created.code, 0, created.stderr);
  t.match(JSON.parse(created.stdout), { name: 'photo-editor', scopes: ['photos:read', 'photos:upload'], version: 1 });

  const dup = await cli('roles', 'create', 'Photo-Editor');
  t.equal(dup.code, 1);
  t.equal(dup.stderr, 'sigil: a role with this name already exists\n', 'unique regardless of case');
  const bad = await cli('roles', 'create', 'viewer', '--scope', 'ok "quoted"');
  t.equal(bad.code, 1);
  t.equal(bad.stderr, 'sigil: scopes[1] is not a valid scope token (RFC 6749 §3.3)\n', 'names the item, never echoes it');

  const updated = await cli('roles', 'update', 'PHOTO-EDITOR', '--add-scope', 'photos:delete', '--remove-scope', 'photos:read', '--json');
  t.equal(updated.code, 0, updated.stderr);
  t.match(JSON.parse(updated.stdout), { scopes: ['photos:delete', 'photos:upload'], version: 2 });
  const renamed = await cli('roles', 'update', 'photo-editor', '--rename', 'editor', '--scope', 'photos:read', '--json');
  t.match(JSON.parse(renamed.stdout), { name: 'editor', scopes: ['photos:read'] });
  t.equal((await cli('roles', 'update', 'editor')).code, 1, 'nothing to change is an error');

  t.equal((await cli('roles', 'create', 'viewer')).code, 0);
  const list = await cli('roles', 'list', '--json');
  t.same(JSON.parse(list.stdout).map((r: { name: string }) => r.name), ['editor', 'viewer']);
  t.match((await cli('roles', 'list')).stdout, /NAME\s+SCOPES\neditor\s+photos:read\nviewer\s+-/);
  t.match((await cli('roles', 'show', 'editor')).stdout, /scopes:\s+photos:read/);

  const deleted = await cli('roles', 'delete', 'viewer', '--json');
  t.same(JSON.parse(deleted.stdout), { name: 'viewer', deleted: true });
  const gone = await cli('roles', 'show', 'viewer');
  t.equal(gone.code, 1);
  t.equal(gone.stderr, 'sigil: no such role\n');
});

t.test('users: created with roles and scopes, or without a password; update roles, scopes, status', async (t) => {
  const session = await createCliSession(t);
  const cli = (args: string[], input?: string) => session.cli(args, { input });
  await cli(['roles', 'create', 'editor', '--scope', 'photos:upload']);
  await cli(['roles', 'create', 'viewer', '--scope', 'photos:read']);

  const alice = await cli(['users', 'create', '--username', 'alice', '--password-stdin', '--role', 'editor', '--scope', 'profile billing', '--json'], 'pw\n');
  t.equal(alice.code, 0, alice.stderr);
  t.match(JSON.parse(alice.stdout), { username: 'alice', roles: ['editor'], scopes: ['billing', 'profile'], has_password: true });

  const unknown = await cli(['users', 'create', '--username', 'bob', '--password-stdin', '--role', 'ghost'], 'pw\n');
  t.equal(unknown.code, 1);
  t.equal(unknown.stderr, 'sigil: roles[0] names no existing role\n');
  const bob = await cli(['users', 'create', '--username', 'bob', '--without-password', '--json']);
  t.equal(bob.code, 0, bob.stderr);
  t.match(JSON.parse(bob.stdout), { username: 'bob', has_password: false, roles: [] });

  const changed = await cli(['users', 'update', 'ALICE', '--add-role', 'viewer', '--remove-scope', 'billing', '--disable', '--json']);
  t.equal(changed.code, 0, changed.stderr);
  t.match(JSON.parse(changed.stdout), { roles: ['editor', 'viewer'], scopes: ['profile'], disabled: true });
  const replaced = await cli(['users', 'update', 'alice', '--roles', 'viewer', '--scopes', '', '--enable', '--json']);
  t.match(JSON.parse(replaced.stdout), { roles: ['viewer'], scopes: [], disabled: false });
  const badRole = await cli(['users', 'update', 'alice', '--add-role', 'ghost']);
  t.equal(badRole.stderr, 'sigil: roles[1] names no existing role\n');
  t.equal((await cli(['users', 'update', 'alice'])).code, 1, 'nothing to change is an error');
  t.equal((await cli(['users', 'update', 'nobody', '--enable'])).stderr, 'sigil: no such user\n');

  const editors = JSON.parse((await cli(['users', 'list', '--role', 'viewer', '--json'])).stdout);
  t.same(editors.map((u: { username: string }) => u.username), ['alice']);
  t.match((await cli(['users', 'show', 'alice'])).stdout, /roles:\s+viewer/);
  t.match((await cli(['users', 'list', '--prefix', 'B'])).stdout, /bob\s+\S+\s+enabled\s+-/);
});

import t from 'tap';
import { ConflictError, InvalidInputError, NotFoundError } from '../../src/db/errors.js';
import { createPasswordHasher } from '../../src/users/passwords.js';
import { createUserRepository } from '../../src/users/user-repository.js';
import { createUserService } from '../../src/users/user-service.js';
import { createTestDatabase } from '../helpers/db.js';

const PARAMS = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

t.test('users: create, find case-insensitively, duplicates refused', async (t) => {
  const { db } = await createTestDatabase(t);
  const users = createUserRepository(db);
  const service = createUserService(db, createPasswordHasher(PARAMS));

  const alice = await service.create({ username: 'Alice', password: 'correct horse' });
  t.match(alice.id, /^[0-9a-f-]{36}$/);
  t.equal(alice.username, 'Alice');
  t.equal((await users.findByUsername('aLiCe'))?.id, alice.id, 'lookup ignores case');
  t.equal((await users.findById(alice.id))?.username, 'Alice');
  t.equal(await users.findById('not-a-uuid'), undefined, 'a malformed id is simply not found');
  t.equal(await users.findByUsername("' or 1=1 --"), undefined, 'SQL-looking input is just a name');

  await t.rejects(service.create({ username: 'ALICE', password: 'x' }), ConflictError, 'usernames are unique regardless of case');
  await t.rejects(service.create({ username: '   ', password: 'x' }), { name: 'InvalidInputError', field: 'username' });
  await t.rejects(service.create({ username: 'bob', password: '' }), { name: 'InvalidInputError', field: 'password' }, 'empty password refused');
  await t.rejects(service.create({ username: 'bob\u0000', password: 'x' }), InvalidInputError, 'control characters refused');
  t.equal((await service.list()).items.length, 1, 'nothing half-written by the failures');

  const ünï = await service.create({ username: 'zoë 🦊', password: 'pässwörd' });
  t.equal((await users.findByUsername('ZOË 🦊'))?.id, ünï.id, 'unicode usernames work');
});

t.test('users: only an argon2id hash is stored; set password, disable, enable, delete', async (t) => {
  const { db } = await createTestDatabase(t);
  const users = createUserRepository(db);
  const hasher = createPasswordHasher(PARAMS);
  const service = createUserService(db, hasher);
  await service.create({ username: 'carol', password: 's3cret-pass' });

  const stored = await db.query<{ password_hash: string }>('select password_hash from users');
  const hash = stored.rows[0]?.password_hash ?? '';
  t.match(hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/, 'argon2id with the configured parameters');
  t.notMatch(hash, /s3cret-pass/);

  t.same(await hasher.verify(hash, 's3cret-pass'), { ok: true, needsRehash: false });
  t.same(await hasher.verify(hash, 'wrong'), { ok: false, needsRehash: false });
  const stronger = createPasswordHasher({ ...PARAMS, timeCost: 3 });
  t.same(await stronger.verify(hash, 's3cret-pass'), { ok: true, needsRehash: true }, 'weaker hash flagged for rehash');

  await service.setPassword({ username: 'CAROL' }, 'new-pass');
  const after = await users.findByUsername('carol');
  t.ok(after?.passwordHash && (await hasher.verify(after.passwordHash, 'new-pass')).ok);
  await t.rejects(service.setPassword({ username: 'nobody' }, 'x'), NotFoundError);

  t.equal((await service.update({ username: 'carol' }, { disabled: true })).disabled, true);
  t.equal((await service.update({ username: 'carol' }, { disabled: false })).disabled, false);
  await t.rejects(service.update({ username: 'nobody' }, { disabled: true }), NotFoundError);
  t.equal((await service.delete({ username: 'Carol' })).username, 'carol');
  await t.rejects(service.delete({ username: 'carol' }), NotFoundError);
});

t.test('users: the database itself refuses bad rows', async (t) => {
  const { db } = await createTestDatabase(t);
  await t.rejects(db.query("insert into users (username, password_hash) values ('dave', 'plaintext')"), {
    code: '23514',
  });
  await t.rejects(db.query("insert into users (username, password_hash) values ('', '$argon2id$x')"), {
    code: '23514',
  });
  await t.rejects(db.query("insert into users (username, password_hash) values (' padded ', '$argon2id$x')"), {
    code: '23514',
  });
});

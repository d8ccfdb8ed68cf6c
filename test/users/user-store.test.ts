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
  const service = createUserService(users, createPasswordHasher(PARAMS));

  const alice = await service.create('Alice', 'correct horse');
  t.match(alice.id, /^[0-9a-f-]{36}$/);
  t.equal(alice.username, 'Alice');
  t.equal((await users.findByUsername('aLiCe'))?.id, alice.id, 'lookup ignores case');
  t.equal((await users.findById(alice.id))?.username, 'Alice');
  t.equal(await users.findById('not-a-uuid'), undefined, 'a malformed id is simply not found');
  t.equal(await users.findByUsername("' or 1=1 --"), undefined, 'SQL-looking input is just a name');

  await t.rejects(service.create('ALICE', 'x'), ConflictError, 'usernames are unique regardless of case');
  await t.rejects(service.create('   ', 'x'), InvalidInputError);
  await t.rejects(service.create('bob', ''), InvalidInputError, 'empty password refused');
  await t.rejects(service.create('bob\u0000', 'x'), InvalidInputError, 'control characters refused');
  t.equal((await users.list()).length, 1, 'nothing half-written by the failures');

  const ünï = await service.create('zoë 🦊', 'pässwörd');
  t.equal((await users.findByUsername('ZOË 🦊'))?.id, ünï.id, 'unicode usernames work');
});

t.test('users: only an argon2id hash is stored; disable, enable, delete', async (t) => {
  const { db } = await createTestDatabase(t);
  const users = createUserRepository(db);
  const hasher = createPasswordHasher(PARAMS);
  const service = createUserService(users, hasher);
  await service.create('carol', 's3cret-pass');

  const stored = await db.query<{ password_hash: string }>('select password_hash from users');
  const hash = stored.rows[0]?.password_hash ?? '';
  t.match(hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/, 'argon2id with the configured parameters');
  t.notMatch(hash, /s3cret-pass/);

  t.same(await hasher.verify(hash, 's3cret-pass'), { ok: true, needsRehash: false });
  t.same(await hasher.verify(hash, 'wrong'), { ok: false, needsRehash: false });
  const stronger = createPasswordHasher({ ...PARAMS, timeCost: 3 });
  t.same(await stronger.verify(hash, 's3cret-pass'), { ok: true, needsRehash: true }, 'weaker hash flagged for rehash');

  await service.setPassword('CAROL', 'new-pass');
  const after = await users.findByUsername('carol');
  t.ok(after && (await hasher.verify(after.passwordHash, 'new-pass')).ok);
  await t.rejects(service.setPassword('nobody', 'x'), NotFoundError);

  t.equal((await users.setDisabled('carol', true))?.disabled, true);
  t.equal((await users.setDisabled('carol', false))?.disabled, false);
  t.equal(await users.setDisabled('nobody', true), undefined);
  t.equal(await users.delete('Carol'), true);
  t.equal(await users.delete('carol'), false);
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

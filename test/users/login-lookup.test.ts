import t from 'tap';
import { createLoginLookup } from '../../src/users/login-lookup.js';
import { createLoginThrottle } from '../../src/users/login-throttle.js';
import { createUserRepository } from '../../src/users/user-repository.js';
import { createTestDatabase } from '../helpers/db.js';

const HASH = `$argon2id$v=19$m=19456,t=2,p=1$${'A'.repeat(22)}$${'A'.repeat(43)}`;
const SETTINGS = { maxFailuresPerAddress: 2, maxFailuresPerUser: 10, baseLockoutSeconds: 60, maxLockoutSeconds: 3600, failureWindowSeconds: 900 };

t.test('one statement: the lock-out state of the name and of the pair, and the user or none', async (t) => {
  const { db } = await createTestDatabase(t);
  let clock = new Date('2026-12-02T10:00:00Z');
  const now = () => clock;
  const lookup = createLoginLookup(db, now);
  const throttle = createLoginThrottle(db, SETTINGS, now);
  const ann = { ...(await createUserRepository(db).insert({ username: 'Ann', passwordHash: HASH })), roles: [], effectiveScopes: [] };

  t.same(await lookup.find('ANN', '10.0.0.1'), { waitSeconds: 0, hasFailures: false, user: ann }, 'found whatever the case, nothing on record');
  t.same(await lookup.find('nobody', '10.0.0.1'), { waitSeconds: 0, hasFailures: false, user: undefined }, 'an unknown name is no user');
  t.same(await lookup.find("ann' or '1'='1", '10.0.0.1'), { waitSeconds: 0, hasFailures: false, user: undefined }, 'SQL-looking input is just a name');

  await throttle.recordFailure('ann', '10.0.0.1');
  t.same(await lookup.find('Ann', '10.0.0.1'), { waitSeconds: 0, hasFailures: true, user: ann }, 'one failure: on record, not locked');
  t.match(await lookup.find('ann', '10.0.0.9'), { waitSeconds: 0, hasFailures: true }, "the name's own row counts from any address");

  await throttle.recordFailure('ann', '10.0.0.1');
  t.match(await lookup.find('ann', '10.0.0.1'), { waitSeconds: 60, hasFailures: true, user: { id: ann.id } }, 'the pair is locked for the first lock-out');
  t.match(await lookup.find('ann', '10.0.0.9'), { waitSeconds: 0 }, 'another address is not');
  clock = new Date(clock.getTime() + 59_500);
  t.match(await lookup.find('ann', '10.0.0.1'), { waitSeconds: 1 }, 'rounded up to whole seconds');
  clock = new Date(clock.getTime() + 500);
  t.match(await lookup.find('ann', '10.0.0.1'), { waitSeconds: 0, hasFailures: true }, 'over when its instant passes');

  await throttle.recordSuccess('ann', '10.0.0.1');
  t.match(await lookup.find('ann', '10.0.0.1'), { waitSeconds: 0, hasFailures: false }, 'cleared by a successful login');
  t.match(await lookup.find('nobody', '10.0.0.1'), { user: undefined });
});

t.test("the same statement brings the user's role names and effective scopes (roles ∪ direct)", async (t) => {
  const { db } = await createTestDatabase(t);
  const lookup = createLoginLookup(db);
  await db.query(`insert into roles (name, scopes) values ('viewer', '{photos:read}'), ('Editor', '{photos:read,photos:upload}'), ('unused', '{admin}')`);
  await db.query(`insert into users (username, password_hash, scopes) values ('bea', $1, '{profile,photos:read}')`, [HASH]);
  await db.query(`insert into user_roles select u.id, r.id from users u, roles r where r.name <> 'unused'`);
  const { user } = await lookup.find('BEA', '10.0.0.1');
  t.same(user?.roles, ['Editor', 'viewer'], 'sorted regardless of case');
  t.same(user?.effectiveScopes, ['photos:read', 'photos:upload', 'profile'], 'each scope once, sorted');
  t.same(user?.scopes, ['profile', 'photos:read'], 'her direct scopes as stored');
  await db.query(`delete from user_roles where role_id = (select id from roles where name = 'Editor')`);
  t.same((await lookup.find('bea', '10.0.0.1')).user?.effectiveScopes, ['photos:read', 'profile'], 'a role taken away is gone at once');
});

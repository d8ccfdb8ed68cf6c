import t from 'tap';
import { createPasswordHasher, type PasswordHasher } from '../../src/users/passwords.js';
import { buildTestApp, TEST_ISSUER } from '../helpers/app.js';

/** The real argon2id hasher, counting how often it verifies. */
function countingHasher(params = { memoryCost: 19456, timeCost: 2, parallelism: 1 }) {
  const real = createPasswordHasher(params);
  const counts = { verify: 0 };
  const hasher: PasswordHasher = {
    hash: (p) => real.hash(p),
    verify: (h, p) => {
      counts.verify++;
      return real.verify(h, p);
    },
    verifyDummy: (p) => {
      counts.verify++;
      return real.verifyDummy(p);
    },
  };
  return { hasher, counts };
}

t.test('password grant: token for the user, sub is the stable id, auth_time set', async (t) => {
  const clock = { now: new Date('2031-05-01T12:00:00Z') };
  const { seed, token, verify } = await buildTestApp(t, { now: () => clock.now });
  const client = await seed.client({ grantTypes: ['password'], scopes: ['profile', 'orders'] });
  const user = await seed.user('Alice', 'correct horse battery staple', { scopes: ['profile'] });
  const res = await token({
    grant_type: 'password',
    username: 'alice',
    password: 'correct horse battery staple',
    scope: 'profile',
    client_id: client.clientId,
    client_secret: client.secret,
  });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(res.json().scope, 'profile');
  const claims = await verify(res.json().access_token);
  t.equal(claims.sub, user.id, 'sub is the user id, not the username');
  t.equal(claims.client_id, client.clientId);
  t.equal(claims.iss, TEST_ISSUER);
  t.equal(claims.auth_time, Math.floor(clock.now.getTime() / 1000));
  t.notOk(JSON.stringify(claims).includes('Alice'), 'no username in the token');
});

t.test('unknown user, wrong password and disabled user: one answer, the same argon2 work', async (t) => {
  const { hasher, counts } = countingHasher();
  const { seed, token, db } = await buildTestApp(t, { hasher });
  const client = await seed.client({ grantTypes: ['password'] });
  await seed.user('bob', 'right password');
  await seed.user('carol', 'right password');
  await db.query("update users set disabled = true where username = 'carol'");
  const auth = { client_id: client.clientId, client_secret: client.secret, grant_type: 'password' };

  const bodies = new Set<string>();
  for (const [username, password] of [
    ['bob', 'wrong password'],
    ['nobody', 'right password'],
    ['carol', 'right password'],
    ["' or 1=1 --", 'x'],
    ['zoë🦊', 'ünïcode'],
  ] as const) {
    const before = counts.verify;
    const res = await token({ ...auth, username, password }, {}, `10.0.0.${bodies.size + 1}`);
    t.equal(res.statusCode, 400, username);
    t.equal(counts.verify - before, 1, `${username}: exactly one argon2 verify`);
    bodies.add(res.body);
  }
  t.same([...bodies], [JSON.stringify({ error: 'invalid_grant', error_description: 'invalid username or password' })]);
});

t.test('parameters: missing or oversized username/password are invalid_request', async (t) => {
  const { seed, token } = await buildTestApp(t);
  const client = await seed.client({ grantTypes: ['password'] });
  const auth = { client_id: client.clientId, client_secret: client.secret, grant_type: 'password' };
  const missingUser = await token({ ...auth, password: 'x' });
  t.equal(missingUser.json().error, 'invalid_request');
  t.match(missingUser.json().error_description, /username parameter is missing/);
  const missingPassword = await token({ ...auth, username: 'x' });
  t.match(missingPassword.json().error_description, /password parameter is missing/);
  const long = await token({ ...auth, username: 'u'.repeat(300), password: 'x' });
  t.equal(long.json().error, 'invalid_request');
  const scope = await token({ ...auth, username: 'x', password: 'y', scope: 'admin' });
  t.equal(scope.json().error, 'invalid_scope', 'scope is checked before any password work');
});

t.test('a login rehashes a password stored with weaker parameters', async (t) => {
  const weak = createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  const { seed, token, db } = await buildTestApp(t, { env: { SIGIL_ARGON2_TIME_COST: '3' } });
  const client = await seed.client({ grantTypes: ['password'] });
  await db.query('insert into users (username, password_hash) values ($1, $2)', ['dave', await weak.hash('pw-dave')]);
  const res = await token({ grant_type: 'password', username: 'dave', password: 'pw-dave', client_id: client.clientId, client_secret: client.secret });
  t.equal(res.statusCode, 200, res.body);
  const stored = (await db.query<{ h: string }>("select password_hash as h from users where username = 'dave'")).rows[0]?.h;
  t.match(stored ?? '', /\$argon2id\$v=19\$m=19456,p=1,t=3\$/, 'stored again with the configured parameters');
});

t.test('brute-force protection: per address and user, exponential, temporary, no argon2 while locked', async (t) => {
  const clock = { now: new Date('2031-06-01T00:00:00Z') };
  const { hasher, counts } = countingHasher();
  const { seed, token } = await buildTestApp(t, { hasher, now: () => clock.now });
  const client = await seed.client({ grantTypes: ['password'] });
  await seed.user('erin', 'erin-password');
  const login = (password: string, ip: string) =>
    token({ grant_type: 'password', username: 'erin', password, client_id: client.clientId, client_secret: client.secret }, {}, ip);
  const advance = (s: number) => (clock.now = new Date(clock.now.getTime() + s * 1000));

  for (let i = 0; i < 5; i++) t.equal((await login('guess', '203.0.113.1')).statusCode, 400);
  const locked = await login('erin-password', '203.0.113.1');
  t.equal(locked.statusCode, 429, 'locked after 5 failures, even with the right password');
  t.equal(locked.headers['retry-after'], '1');
  t.equal(locked.json().error, 'invalid_grant');
  t.match(locked.json().error_description, /too many failed logins/);
  t.equal(locked.headers['cache-control'], 'no-store');
  const before = counts.verify;
  await login('guess', '203.0.113.1');
  t.equal(counts.verify, before, 'a locked attempt runs no argon2');

  const elsewhere = await login('erin-password', '198.51.100.7');
  t.equal(elsewhere.statusCode, 200, 'another address is not locked out');

  // The lock-out doubles with each further failure, and ends.
  advance(1);
  t.equal((await login('guess', '203.0.113.1')).statusCode, 400);
  t.equal((await login('guess', '203.0.113.1')).headers['retry-after'], '2');
  advance(2);
  t.equal((await login('guess', '203.0.113.1')).statusCode, 400);
  t.equal((await login('guess', '203.0.113.1')).headers['retry-after'], '4');
  advance(4);
  t.equal((await login('erin-password', '203.0.113.1')).statusCode, 200, 'never permanent; success resets');
  t.equal((await login('guess', '203.0.113.1')).statusCode, 400, 'counting starts again from zero');
  t.equal((await login('guess', '203.0.113.1')).statusCode, 400);

  // One address hammering for a long time never locks the user out everywhere.
  for (let i = 0; i < 40; i++) {
    advance(900);
    await login('guess', '192.0.2.66');
  }
  t.equal((await login('erin-password', '198.51.100.8')).statusCode, 200, 'still reachable from other addresses');

  // Many addresses together do lock the username (a distributed guess), temporarily.
  for (let a = 1; a <= 5; a++) for (let i = 0; i < 5; i++) await login('guess', `100.64.0.${a}`);
  const everywhere = await login('erin-password', '198.51.100.9');
  t.equal(everywhere.statusCode, 429, 'a username under distributed attack is locked for a while');
  advance(901);
  t.equal((await login('erin-password', '198.51.100.9')).statusCode, 200, 'and unlocked after the longest lock-out');
});

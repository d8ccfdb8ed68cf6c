import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { formatRefreshToken, parseRefreshToken, type RefreshTokenName } from '../../src/tokens/refresh-token-format.js';
import type { Database } from '../../src/db/database.js';
import { createRefreshTokenStore } from '../../src/tokens/refresh-tokens.js';
import { buildTestApp } from '../helpers/app.js';
import { ON_POSTGRES } from '../helpers/db.js';

async function setup(t: Test, env: Record<string, string> = {}) {
  const clock = { now: new Date('2032-01-01T00:00:00Z') };
  // The client cache on a clock that stands still: a test that changes a client in SQL says when the
  // cache learns of it (clientCache.check()), instead of racing the NOTIFY.
  const ctx = await buildTestApp(t, { now: () => clock.now, env, clientCacheClock: () => 0 });
  const client = await ctx.seed.client({ grantTypes: ['password'], scopes: ['read', 'write', 'admin'] });
  const user = await ctx.seed.user('henry', 'henry-password', { scopes: ['read', 'write', 'admin'] });
  const auth = { client_id: client.clientId, client_secret: client.secret };
  const login = async (scope = 'read write') => {
    const res = await ctx.token({ ...auth, grant_type: 'password', username: 'henry', password: 'henry-password', scope });
    t.equal(res.statusCode, 200, res.body);
    return res.json() as { access_token: string; refresh_token: string; scope: string };
  };
  const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
    ctx.token({ ...auth, grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
  const advance = (s: number) => (clock.now = new Date(clock.now.getTime() + s * 1000));
  return { ...ctx, clock, client, user, auth, login, refresh, advance };
}

/** The store alone, on a clock that stands still: idle 1 h, absolute 2 h, no grace window unless asked. */
const storeAt = (db: Database, { graceSeconds = 0, at = new Date('2032-01-01T00:00:00Z') } = {}) =>
  createRefreshTokenStore(db, { idleSeconds: 3600, absoluteSeconds: 7200, graceSeconds }, () => at);

t.test('the password grant returns a refresh token naming its login and generation beside 256 random bits, stored only as a hash', async (t) => {
  const { login, refresh, db, verify } = await setup(t);
  const { refresh_token, access_token } = await login();
  t.match(refresh_token, /^[A-Za-z0-9_-]{70}$/);
  const { sid } = await verify(access_token);
  t.same(parseRefreshToken(refresh_token), { familyId: sid, generation: 0 }, 'the family is the login (sid), generation 0');
  const next = (await refresh(refresh_token)).json().refresh_token;
  t.same(parseRefreshToken(next), { familyId: sid, generation: 1 }, 'each rotation is the next generation');
  // Every column as text, byte columns in hex and base64url too.
  const rows = (await db.query('select * from refresh_tokens')).rows
    .flatMap((r) => Object.values(r).map((v) => (v instanceof Uint8Array ? `${Buffer.from(v).toString('hex')} ${Buffer.from(v).toString('base64url')}` : String(v))))
    .join(' ');
  t.match(rows, createHash('sha256').update(refresh_token).digest('hex'), 'its hash is there (the check below reads the bytes)');
  for (const token of [refresh_token, next]) {
    const secret = Buffer.from(token, 'base64url').subarray(20);
    t.notOk(rows.includes(token), 'not stored in clear');
    t.notOk(rows.includes(secret.toString('hex')) || rows.includes(secret.toString('base64url')), 'nor its random part');
  }
});

t.test("a token's name alone finds nothing: another secret under a live or spent name is unknown and ends nothing", async (t) => {
  const { login, refresh } = await setup(t);
  const first = await login();
  const name = parseRefreshToken(first.refresh_token) as RefreshTokenName;
  const forged = (generation: number) => formatRefreshToken(name.familyId, generation, Buffer.alloc(32, 7));
  const live = await refresh(forged(0));
  t.equal(live.statusCode, 400);
  t.equal(live.json().error, 'invalid_grant');
  t.notMatch(live.json().error_description, /already used/, 'not taken for reuse');
  const second = await refresh(first.refresh_token);
  t.equal(second.statusCode, 200, 'the real token still rotates: the forgery ended nothing');
  t.equal((await refresh(forged(0))).json().error, 'invalid_grant', 'a forged secret under the spent name');
  t.equal((await refresh(forged(5))).json().error, 'invalid_grant', 'a generation that does not exist');
  t.equal((await refresh(second.json().refresh_token)).statusCode, 200, 'and the family lives on');
  const badLength = await refresh(`${first.refresh_token}A`);
  t.equal(badLength.json().error, 'invalid_grant', 'a token of any other shape is unknown');
});

t.test('every refresh rotates; reuse of a rotated token revokes the whole family', async (t) => {
  const { login, refresh, verify, user } = await setup(t);
  const first = await login();
  const r1 = await refresh(first.refresh_token);
  t.equal(r1.statusCode, 200, r1.body);
  t.equal(r1.headers['cache-control'], 'no-store');
  const b1 = r1.json();
  t.not(b1.refresh_token, first.refresh_token, 'a new refresh token');
  t.equal(b1.scope, 'read write');
  const claims = await verify(b1.access_token);
  t.equal(claims.sub, user.id);
  t.type(claims.auth_time, 'number', 'auth_time of the original login');

  const r2 = await refresh(b1.refresh_token);
  t.equal(r2.statusCode, 200);
  const latest = r2.json().refresh_token;

  const reuse = await refresh(first.refresh_token);
  t.equal(reuse.statusCode, 400);
  t.equal(reuse.json().error, 'invalid_grant');
  t.match(reuse.json().error_description, /already used/);
  const afterReuse = await refresh(latest);
  t.equal(afterReuse.statusCode, 400, 'the newest token of the family is dead too');
  t.equal(afterReuse.json().error, 'invalid_grant');
});

t.test('scope can be narrowed on refresh, never widened; a refused request leaves the token unspent', async (t) => {
  const { login, refresh } = await setup(t);
  const first = await login('read write');
  const widened = await refresh(first.refresh_token, { scope: 'read admin' });
  t.equal(widened.statusCode, 400);
  t.equal(widened.json().error, 'invalid_scope');
  const narrowed = await refresh(first.refresh_token, { scope: 'read' });
  t.equal(narrowed.statusCode, 200, 'the refused request did not spend the token');
  t.equal(narrowed.json().scope, 'read');
  const again = await refresh(narrowed.json().refresh_token);
  t.equal(again.json().scope, 'read write', 'without scope: everything granted at login');
});

t.test('disabled or deleted user, or the client losing the grant, ends the family', async (t) => {
  const { login, refresh, db, clientCache } = await setup(t);
  if (!clientCache) throw new Error('the test drives the client cache');
  const a = await login();
  await db.query("update users set disabled = true where username = 'henry'");
  t.equal((await refresh(a.refresh_token)).json().error, 'invalid_grant', 'disabled user');
  await db.query("update users set disabled = false where username = 'henry'");
  t.equal((await refresh(a.refresh_token)).json().error, 'invalid_grant', 'the family stays ended');

  const b = await login();
  await db.query("update clients set grant_types = '{client_credentials}'");
  await clientCache.check();
  const lost = await refresh(b.refresh_token);
  t.equal(lost.json().error, 'unauthorized_client');
  await db.query("update clients set grant_types = '{password}'");
  await clientCache.check();
  t.equal((await refresh(b.refresh_token)).json().error, 'invalid_grant', 'ended, even when the grant returns');

  const c = await login();
  await db.query("delete from users where username = 'henry'");
  t.equal((await refresh(c.refresh_token)).json().error, 'invalid_grant', 'deleted user');
});

t.test('idle and absolute lifetimes', async (t) => {
  const { login, refresh, advance } = await setup(t, {
    SIGIL_REFRESH_TOKEN_IDLE_SECONDS: '3600',
    SIGIL_REFRESH_TOKEN_ABSOLUTE_SECONDS: '7200',
  });
  const a = await login();
  advance(3601);
  const idle = await refresh(a.refresh_token);
  t.equal(idle.json().error, 'invalid_grant');
  t.match(idle.json().error_description, /expired/);

  let token = (await login()).refresh_token;
  for (let i = 0; i < 3; i++) {
    advance(2000);
    const r = await refresh(token);
    t.equal(r.statusCode, 200, `refresh ${i + 1} inside both lifetimes`);
    token = r.json().refresh_token;
  }
  advance(2000); // 8000 s after the login
  t.equal((await refresh(token)).json().error, 'invalid_grant', 'the absolute lifetime ends the family');
});

t.test('grace window: a lost response can be retried once and gets the same successor', async (t) => {
  const { login, refresh, advance } = await setup(t, { SIGIL_REFRESH_TOKEN_GRACE_SECONDS: '10' });
  const a = await login();
  const r1 = await refresh(a.refresh_token);
  const retry = await refresh(a.refresh_token);
  t.equal(retry.statusCode, 200, 'one retry inside the window');
  t.equal(retry.json().refresh_token, r1.json().refresh_token, 'the same successor');
  const third = await refresh(a.refresh_token);
  t.equal(third.json().error, 'invalid_grant', 'only once: the second retry is reuse');
  t.equal((await refresh(r1.json().refresh_token)).json().error, 'invalid_grant', 'and it ended the family');

  const b = await login();
  await refresh(b.refresh_token);
  advance(11);
  t.equal((await refresh(b.refresh_token)).json().error, 'invalid_grant', 'after the window it is reuse');
});

t.test('default: no grace window', async (t) => {
  const { login, refresh } = await setup(t);
  const a = await login();
  await refresh(a.refresh_token);
  t.equal((await refresh(a.refresh_token)).json().error, 'invalid_grant');
});

t.test('refresh tokens belong to their client; client_credentials never gets one', async (t) => {
  const { login, seed, token } = await setup(t);
  const a = await login();
  const other = await seed.client({ grantTypes: ['password', 'client_credentials'], scopes: ['read'] });
  const stolen = await token({ client_id: other.clientId, client_secret: other.secret, grant_type: 'refresh_token', refresh_token: a.refresh_token });
  t.equal(stolen.json().error, 'invalid_grant');
  const cc = await token({ client_id: other.clientId, client_secret: other.secret, grant_type: 'client_credentials' });
  t.notOk('refresh_token' in cc.json());
  const missing = await token({ client_id: other.clientId, client_secret: other.secret, grant_type: 'refresh_token' });
  t.equal(missing.json().error, 'invalid_request');
  const garbage = await token({ client_id: other.clientId, client_secret: other.secret, grant_type: 'refresh_token', refresh_token: "' or 1=1 --" });
  t.equal(garbage.json().error, 'invalid_grant');
});

t.test('N parallel refreshes with one token: exactly one succeeds', { skip: !ON_POSTGRES && 'real concurrency needs PostgreSQL' }, async (t) => {
  const { login, refresh } = await setup(t);
  const a = await login();
  const results = await Promise.all(Array.from({ length: 8 }, () => refresh(a.refresh_token)));
  const ok = results.filter((r) => r.statusCode === 200);
  t.equal(ok.length, 1, 'one winner');
  t.ok(results.filter((r) => r.statusCode !== 200).every((r) => r.json().error === 'invalid_grant'), 'the rest invalid_grant');
});

t.test('the store alone: concurrent rotation on separate connections', async (t) => {
  const { db, user, client } = await setup(t);
  const store = storeAt(db);
  const token = await store.issue({ userId: user.id, clientId: client.clientId, scopes: ['read'], authTime: new Date('2032-01-01T00:00:00Z') });
  const results = await Promise.all(Array.from({ length: 5 }, () => store.rotate(token, client.clientId)));
  t.equal(results.filter((r) => r.ok).length, 1);
});

// Rotations with a check (a scope to narrow to) take the full transaction, the rest the batched
// statement: the successor's unique generation makes exactly one of them win either way.
t.test('the batched statement and the full transaction racing for one token: one wins', async (t) => {
  const { db, user, client } = await setup(t);
  const store = storeAt(db);
  for (let round = 0; round < 10; round++) {
    const token = await store.issue({ userId: user.id, clientId: client.clientId, scopes: ['read'], authTime: new Date('2032-01-01T00:00:00Z') });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => store.rotate(token, client.clientId, i % 2 ? () => {} : undefined)));
    t.equal(results.filter((r) => r.ok).length, 1, `round ${round}: one winner`);
    // The first to find it spent ends the family (reuse); those after it find the family ended.
    t.ok(results.every((r) => r.ok || r.reason === 'reused' || r.reason === 'revoked'), `round ${round}: the others are refused`);
    t.ok(results.some((r) => !r.ok && r.reason === 'reused'), `round ${round}: as reuse`);
    const rows = await db.query<{ n: number }>('select count(*)::int as n from refresh_tokens where family_id = $1', [parseRefreshToken(token)?.familyId]);
    t.equal(rows.rows[0]?.n, 2, `round ${round}: one successor was stored`);
  }
});

// A named token is spent while its successor's row exists, and the purge deletes rows by expiry.
t.test('a successor never expires before its predecessor: a lowered idle lifetime and a purge bring no spent token back', async (t) => {
  const { db, user, client } = await setup(t);
  let clock = new Date('2032-01-01T00:00:00Z');
  const store = (idleSeconds: number) => createRefreshTokenStore(db, { idleSeconds, absoluteSeconds: 86_400, graceSeconds: 0 }, () => clock);
  const purge = async () => {
    for (let page: number | undefined = 0; page !== undefined; ) page = (await store(60).purgeTokens(db, 0, 1000, page)).nextPage;
  };
  for (const path of ['batched', 'transaction'] as const) {
    const check = path === 'transaction' ? () => {} : undefined;
    const first = await store(3600).issue({ userId: user.id, clientId: client.clientId, scopes: ['read'], authTime: clock });
    const second = await store(60).rotate(first, client.clientId, check);
    t.ok(second.ok, `${path}: rotated after the idle lifetime was lowered`);
    clock = new Date(clock.getTime() + 120_000);
    await purge();
    t.match(await store(60).rotate(first, client.clientId), { ok: false, reason: 'reused' }, `${path}: the spent token is still spent`);
  }
});

t.test('grace retries racing for one successor: one gets it, the rest are reuse', async (t) => {
  const { db, user, client } = await setup(t);
  const store = storeAt(db, { graceSeconds: 10 });
  const first = await store.issue({ userId: user.id, clientId: client.clientId, scopes: ['read'], authTime: new Date('2032-01-01T00:00:00Z') });
  const rotated = await store.rotate(first, client.clientId);
  if (!rotated.ok) throw new Error('the first rotation failed');
  const retries = await Promise.all(Array.from({ length: 5 }, (_, i) => store.rotate(first, client.clientId, i % 2 ? () => {} : undefined)));
  const ok = retries.filter((r) => r.ok);
  t.equal(ok.length, 1, 'one retry');
  t.equal(ok[0]?.ok && ok[0].token, rotated.token, 'gets the same successor');
  t.ok(retries.every((r) => r.ok || r.reason === 'reused' || r.reason === 'revoked'), 'the rest are refused');
});

// The purge walks pages: it may delete a spent token's successor a batch before the token itself
// (both expired: a successor never expires first), while a later generation lives on.
t.test('a spent token whose successor the purge has taken first is still spent', async (t) => {
  const { db, user, client } = await setup(t);
  let clock = new Date('2032-01-01T00:00:00Z');
  const later = (s: number) => (clock = new Date(clock.getTime() + s * 1000));
  const store = createRefreshTokenStore(db, { idleSeconds: 3600, absoluteSeconds: 86_400, graceSeconds: 0 }, () => clock);
  const first = await store.issue({ userId: user.id, clientId: client.clientId, scopes: ['read'], authTime: clock });
  later(3000);
  const second = await store.rotate(first, client.clientId);
  if (!second.ok) throw new Error('the first rotation failed');
  later(3000);
  const third = await store.rotate(second.token, client.clientId);
  t.ok(third.ok);
  later(1000); // the first two are past their idle expiry, the third is not
  await db.query('delete from refresh_tokens where family_id = $1 and generation = 1', [parseRefreshToken(first)?.familyId]);
  t.match(await store.rotate(first, client.clientId), { ok: false, reason: 'reused' }, 'reuse, which ends the family');
  t.match(third.ok && (await store.rotate(third.token, client.clientId)), { ok: false, reason: 'revoked' });
});

t.test('the session listing: a refresh in the same millisecond as the login still counts as a refresh', async (t) => {
  const { db, user, client } = await setup(t);
  const at = new Date('2032-01-01T00:00:00Z');
  const store = storeAt(db, { at });
  const token = await store.issue({ userId: user.id, clientId: client.clientId, scopes: ['read'], authTime: at });
  t.match((await store.listFamilies(user.id)).items, [{ lastUsedAt: null }], 'never refreshed');
  t.ok((await store.rotate(token, client.clientId)).ok);
  t.match((await store.listFamilies(user.id)).items, [{ lastUsedAt: at }], 'refreshed once');
});

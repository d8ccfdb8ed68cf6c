import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, importJWK, type JSONWebKeySet, jwtVerify, SignJWT } from 'jose';
import t from 'tap';
import type { Database } from '../../src/db/database.js';
import { decryptPrivateKey } from '../../src/keys/key-crypto.js';
import { createKeyRepository } from '../../src/keys/key-repository.js';
import { keyState } from '../../src/keys/key-schedule.js';
import { createKeyService, type ManagedKeyService } from '../../src/keys/key-service.js';
import { createTestDatabase } from '../helpers/db.js';
import { createTestKeys, keysTestConfig, TEST_KEYS_ISSUER, testClock, testEncryptionKeys } from '../helpers/keys.js';

const claims = (extra: Record<string, unknown> = {}) => ({
  iss: TEST_KEYS_ISSUER,
  sub: 'user-1',
  aud: 'https://api.example.com',
  client_id: 'client-1',
  scope: 'read',
  jti: randomUUID(),
  ...extra,
});
const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const jwksKids = (keys: ManagedKeyService) => (JSON.parse(keys.jwks().body) as JSONWebKeySet).keys.map((k) => k.kid);
/** What a resource server does: verify against the JWKS it fetched, at its own clock. */
const verifyWithJwks = (token: string, jwks: string, at: Date) =>
  jwtVerify(token, createLocalJWKSet(JSON.parse(jwks) as JSONWebKeySet), {
    issuer: TEST_KEYS_ISSUER,
    typ: 'at+jwt',
    currentDate: at,
  });

async function states(db: Database, at: Date) {
  return Object.fromEntries((await createKeyRepository(db).list()).map((k) => [k.kid, keyState(k, at)]));
}

t.test('every life-cycle transition, and the JWKS at each stage (default timings)', async (t) => {
  const { db } = await createTestDatabase(t);
  const clock = testClock();
  const T0 = clock.now();
  const config = keysTestConfig();
  const { rotationIntervalSeconds: interval, leadTimeSeconds: lead, retentionSeconds: retention } = config.keys;
  const keys = await createTestKeys(db, { now: clock.now, config });

  // First start: one key, active at once.
  const [k1] = jwksKids(keys);
  t.same(await states(db, clock.now()), { [k1 as string]: 'active' }, 'first start: one active key');
  const first = await keys.sign(claims(), 600);
  t.equal(kidOf(first), k1);
  t.match(decodeProtectedHeader(first), { alg: 'ES256', kid: k1, typ: 'at+jwt' });
  const etag1 = keys.jwks().etag;

  // Not due yet.
  clock.set(new Date(+T0 + (interval - lead - 1) * 1000));
  t.same(await keys.tick(), [], 'nothing due one second before interval − lead');
  t.same(jwksKids(keys), [k1]);

  // Due: the next key is created pending and published at once.
  clock.advance(1);
  const events = await keys.tick();
  t.match(events, [{ type: 'created', activatesAt: new Date(+T0 + interval * 1000) }]);
  const k2 = events[0]?.kid as string;
  t.same(await states(db, clock.now()), { [k1 as string]: 'active', [k2]: 'pending' });
  t.same(jwksKids(keys), [k2, k1], 'pending key published, newest first');
  t.not(keys.jwks().etag, etag1, 'a new ETag for the new set');
  const beforeRotation = await keys.sign(claims(), 600);
  t.equal(kidOf(beforeRotation), k1, 'the pending key does not sign');
  t.same(await keys.tick(), [], 'created once: the next tick does nothing');

  // Activation instant: no write needed, the clock switches keys.
  clock.set(new Date(+T0 + interval * 1000 - 1));
  const lastOld = await keys.sign(claims(), 600);
  t.equal(kidOf(lastOld), k1, 'the old key signs until the instant');
  clock.set(new Date(+T0 + interval * 1000));
  const afterRotation = await keys.sign(claims(), 600);
  t.equal(kidOf(afterRotation), k2, 'the new key signs from its activation instant');
  t.same(await states(db, clock.now()), { [k1 as string]: 'retired', [k2]: 'active' });
  t.same(jwksKids(keys), [k2, k1], 'the retired key stays published');
  t.same(await keys.tick(), []);
  t.match(await keys.verify(lastOld), { iss: TEST_KEYS_ISSUER }, 'tokens of the retired key still verify');
  await verifyWithJwks(lastOld, keys.jwks().body, clock.now());

  // Removal after retention.
  const removal = +T0 + (interval + retention) * 1000;
  clock.set(new Date(removal - 1));
  t.same(jwksKids(keys), [k2, k1]);
  clock.set(new Date(removal));
  t.same(jwksKids(keys), [k2], 'gone from the JWKS by the clock, before any tick');
  t.same(await states(db, clock.now()), { [k1 as string]: 'removed', [k2]: 'active' });
  t.match(await keys.tick(), [{ type: 'removed', kid: k1 }], 'the row is deleted once');
  t.same(Object.keys(await states(db, clock.now())), [k2]);
  t.same(await keys.tick(), []);

  // And the cycle goes on.
  clock.set(new Date(+T0 + (2 * interval - lead) * 1000));
  t.match(await keys.tick(), [{ type: 'created', activatesAt: new Date(+T0 + 2 * interval * 1000) }]);
});

t.test('a resource server caching the JWKS for max-age never meets an unknown kid, and old tokens verify until they expire', async (t) => {
  // Two instances on one database, reloading only on their timers (no NOTIFY), one reload
  // interval apart; three rotations, stepped one reload interval at a time.
  const { db } = await createTestDatabase(t);
  const clock = testClock();
  const config = keysTestConfig({
    SIGIL_KEY_ROTATION_INTERVAL_SECONDS: '7200',
    SIGIL_KEY_LEAD_TIME_SECONDS: '690',
    SIGIL_JWKS_MAX_AGE_SECONDS: '600',
    SIGIL_KEY_RELOAD_SECONDS: '30',
    SIGIL_KEY_CLOCK_SKEW_SECONDS: '60',
    SIGIL_ACCESS_TOKEN_TTL: '600',
    SIGIL_KEY_RETENTION_SECONDS: '690',
  });
  const { jwksMaxAgeSeconds: maxAge, reloadIntervalSeconds: step } = config.keys;
  const encryptionKeys = testEncryptionKeys();
  const a = await createTestKeys(db, { now: clock.now, config, encryptionKeys });
  const b = await createTestKeys(db, { now: clock.now, config, encryptionKeys });
  const served = new Map<number, string[]>(); // time → JWKS bodies served by each instance
  const outstanding: Array<{ token: string; exp: number }> = [];
  const signingKids = new Set<string>();
  let unknown = 0;
  let failedVerifications = 0;

  for (let i = 0; i <= (3 * 7200 + 1800) / step; i++) {
    const now = clock.now();
    await b.tick(); // b sees a's changes one step late, and vice versa
    await a.tick();
    served.set(+now, [a.jwks().body, b.jwks().body]);
    const cachedSince = served.get(+now - maxAge * 1000);
    for (const instance of [a, b]) {
      const token = await instance.sign(claims(), 600);
      signingKids.add(kidOf(token) as string);
      // Every JWKS fetched from any instance up to max-age ago already holds the signing key.
      if (cachedSince && !cachedSince.every((body) => body.includes(`"kid":"${kidOf(token)}"`))) unknown++;
      if (i % 10 === 0) outstanding.push({ token, exp: +now + 600_000 });
    }
    // Every unexpired token verifies against the JWKS each instance serves now.
    for (const { token, exp } of outstanding) {
      if (exp <= +now) continue;
      for (const body of [a.jwks().body, b.jwks().body]) {
        await verifyWithJwks(token, body, now).catch(() => failedVerifications++);
      }
      await a.verify(token).catch(() => failedVerifications++);
    }
    clock.advance(step);
  }
  t.equal(signingKids.size, 4, 'three rotations happened');
  t.equal(unknown, 0, 'no token was signed by a key missing from a JWKS served one max-age earlier');
  t.equal(failedVerifications, 0, 'no unexpired token failed against the current JWKS');
  t.ok(outstanding.length > 100);
  t.equal((await createKeyRepository(db).list()).length, 1, 'the retired keys were removed once their tokens expired');
});

t.test('rotate --now: a new key signs at once; the old one stays published until its tokens expire', async (t) => {
  const { db } = await createTestDatabase(t);
  const clock = testClock();
  const config = keysTestConfig();
  const keys = await createTestKeys(db, { now: clock.now, config });
  const [k1] = jwksKids(keys);
  const old = await keys.sign(claims(), 600);
  clock.advance(60);
  await keys.rotation.rotate(); // a pending key, dropped by the emergency rotation
  const [pending] = jwksKids(keys);
  clock.advance(60);
  const result = await keys.rotation.rotate({ now: true });
  t.same(
    result.events.map((e) => e.type),
    ['retired', 'dropped', 'created'],
  );
  const k3 = result.events.find((e) => e.type === 'created')?.kid as string;
  t.equal(kidOf(await keys.sign(claims(), 600)), k3, 'the new key signs at once');
  t.same(jwksKids(keys), [k3, k1], 'the retired key stays; the pending one is gone');
  t.not(pending, k3);
  t.same(await states(db, clock.now()), { [k1 as string]: 'retired', [k3]: 'active' });
  await verifyWithJwks(old, keys.jwks().body, clock.now());
  t.ok(await keys.verify(old), 'the token signed just before still verifies');
  clock.advance(600 - 120 + config.keys.clockSkewSeconds + 1);
  await t.rejects(keys.verify(old), { code: 'ERR_JWT_EXPIRED' }, 'until it expires');
  clock.advance(config.keys.retentionSeconds);
  t.same(jwksKids(keys), [k3]);
});

t.test('revoke: the key leaves the JWKS at once, its tokens stop verifying, a replacement signs', async (t) => {
  const { db } = await createTestDatabase(t);
  const clock = testClock();
  const config = keysTestConfig();
  const encryptionKeys = testEncryptionKeys();
  const a = await createTestKeys(db, { now: clock.now, config, encryptionKeys });
  const b = await createTestKeys(db, { now: clock.now, config, encryptionKeys });
  const [k1] = jwksKids(a);
  const token = await a.sign(claims(), 600);
  t.ok(await b.verify(token));

  clock.advance(10);
  const result = await a.rotation.revoke(k1 as string);
  t.same(
    result.events.map((e) => e.type),
    ['revoked', 'created'],
  );
  const k2 = result.events.find((e) => e.type === 'created')?.kid as string;
  t.same(jwksKids(a), [k2], 'out of the JWKS at once');
  await t.rejects(a.verify(token), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'its tokens no longer verify');
  await t.rejects(verifyWithJwks(token, a.jwks().body, clock.now()), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  t.equal(kidOf(await a.sign(claims(), 600)), k2, 'a new key signs at once');

  t.ok(await b.verify(token), 'another instance learns it on its next reload…');
  await b.reload();
  await t.rejects(b.verify(token), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, '…and then refuses it too');
  t.equal(kidOf(await b.sign(claims(), 600)), k2);
  t.same(await states(db, clock.now()), { [k1 as string]: 'revoked', [k2]: 'active' });
  t.match((await a.rotation.revoke(k1 as string)).events, [{ type: 'already-revoked' }]);
  await t.rejects(a.rotation.revoke('no-such-kid'), { name: 'NotFoundError' });

  // A revoked pending key: the current key carries on and gets a new successor later.
  clock.advance(60);
  const pending = (await a.rotation.rotate()).events.find((e) => e.type === 'created')?.kid as string;
  await a.rotation.revoke(pending);
  t.same(jwksKids(a), [k2]);
  t.equal(kidOf(await a.sign(claims(), 600)), k2);
  const [row] = (await createKeyRepository(db).list()).filter((k) => k.kid === k2);
  t.same([row?.retiresAt, row?.removesAt], [null, null]);

  // Revoked rows stay listed for one retention period, then the timer deletes them.
  t.equal((await createKeyRepository(db).list()).length, 3);
  clock.advance(config.keys.retentionSeconds);
  const removed = (await a.tick()).filter((e) => e.type === 'removed').map((e) => e.kid);
  t.same(removed.sort(), [k1, pending].sort(), 'both revoked rows deleted by the timer step');
  t.same(
    (await createKeyRepository(db).list()).map((k) => k.kid),
    [k2],
  );
});

t.test('SIGIL_SIGNING_ALG applies from the next rotation, with both keys published across the change', async (t) => {
  const { db } = await createTestDatabase(t);
  const clock = testClock();
  const encryptionKeys = testEncryptionKeys();
  const es = await createTestKeys(db, { now: clock.now, encryptionKeys, config: keysTestConfig() });
  t.equal(decodeProtectedHeader(await es.sign(claims(), 600)).alg, 'ES256');
  // Restarted with another algorithm: the existing ES256 key keeps signing until the next rotation.
  const ed = await createTestKeys(db, { now: clock.now, encryptionKeys, config: keysTestConfig({ SIGIL_SIGNING_ALG: 'EdDSA' }) });
  t.equal(decodeProtectedHeader(await ed.sign(claims(), 600)).alg, 'ES256');
  const created = await ed.rotation.rotate();
  const next = created.events.find((e) => e.type === 'created');
  clock.set(new Date(+(next?.activatesAt as Date) - 1000));
  const esToken = await ed.sign(claims(), 600);
  t.equal(decodeProtectedHeader(esToken).alg, 'ES256', 'until the rotation');
  clock.set(next?.activatesAt as Date);
  const edToken = await ed.sign(claims(), 600);
  t.match(decodeProtectedHeader(edToken), { alg: 'EdDSA', kid: next?.kid });
  const jwks = JSON.parse(ed.jwks().body) as JSONWebKeySet;
  t.match(jwks.keys, [
    { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' },
    { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' },
  ]);
  for (const token of [esToken, edToken]) await verifyWithJwks(token, ed.jwks().body, clock.now());
});

t.test('every algorithm signs tokens that verify against the published JWKS', async (t) => {
  const { db } = await createTestDatabase(t);
  const encryptionKeys = testEncryptionKeys();
  await createTestKeys(db, { encryptionKeys });
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) {
    const keys = createKeyService({ db, encryptionKeys, config: keysTestConfig({ SIGIL_SIGNING_ALG: alg }) });
    await keys.load();
    await keys.rotation.rotate({ now: true });
    const token = await keys.sign(claims(), 600);
    const { protectedHeader, payload } = await verifyWithJwks(token, keys.jwks().body, new Date());
    t.equal(protectedHeader.alg, alg);
    t.match(payload, { iss: TEST_KEYS_ISSUER, sub: 'user-1', client_id: 'client-1' });
    t.ok(await keys.verify(token), `${alg}: verify() accepts it`);
    const jwk = (JSON.parse(keys.jwks().body) as JSONWebKeySet).keys[0];
    if (alg.endsWith('S256') && alg !== 'ES256') t.equal(Buffer.from(jwk?.n ?? '', 'base64url').length * 8, 2048, 'RSA 2048');
  }
});

t.test('sign sets iat/exp from the injected clock; verify checks key, typ, issuer, algorithm and expiry', async (t) => {
  const { db } = await createTestDatabase(t);
  const clock = testClock();
  const config = keysTestConfig();
  const encryptionKeys = testEncryptionKeys();
  const keys = await createTestKeys(db, { now: clock.now, config, encryptionKeys });
  const token = await keys.sign(claims({ iat: 1, exp: 2 }), 300);
  const payload = await keys.verify(token);
  const nowSec = Math.floor(+clock.now() / 1000);
  t.match(payload, { iat: nowSec, exp: nowSec + 300, iss: TEST_KEYS_ISSUER, scope: 'read' }, 'iat/exp replaced');

  await t.rejects(keys.sign(claims(), 0), RangeError);
  await t.rejects(keys.sign(claims(), 1.5), RangeError);
  await t.rejects(keys.sign(claims(), keys.maxTokenTtlSeconds + 1), { name: 'RangeError', message: /SIGIL_KEY_RETENTION_SECONDS/ });
  t.ok(await keys.sign(claims(), keys.maxTokenTtlSeconds));

  // Tokens made with the real private key but breaking one rule each.
  const [stored] = await createKeyRepository(db).list();
  if (!stored) throw new Error('no key');
  const privateKey = await importJWK(decryptPrivateKey(stored.encrypted, stored.kid, encryptionKeys), 'ES256');
  const iat = nowSec;
  const forge = (header: Record<string, unknown>, body: Record<string, unknown> = {}) =>
    new SignJWT({ ...claims(), iat, exp: iat + 300, ...body })
      .setProtectedHeader({ alg: 'ES256', kid: stored.kid, typ: 'at+jwt', ...header })
      .sign(privateKey);
  t.ok(await keys.verify(await forge({})), 'the control token verifies');
  await t.rejects(keys.verify(await forge({ typ: 'JWT' })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' }, 'typ must be at+jwt');
  await t.rejects(keys.verify(await forge({}, { iss: 'https://evil.example' })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  await t.rejects(keys.verify(await forge({ kid: 'unknown' })), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  await t.rejects(keys.verify(await forge({}, { exp: undefined })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' }, 'exp required');
  const foreign = await createTestKeys(db, { now: clock.now, config, encryptionKeys });
  await foreign.rotation.rotate({ now: true });
  const byOtherKey = await foreign.sign(claims(), 300);
  const [h, p] = token.split('.');
  const [, , sig] = byOtherKey.split('.');
  await t.rejects(keys.verify(`${h}.${p}.${sig}`), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }, "another key's signature");
  await t.rejects(keys.verify(`${token.slice(0, -4)}AAAA`), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  await t.rejects(keys.verify('not.a.jwt'));

  clock.advance(300 + config.keys.clockSkewSeconds - 1);
  t.ok(await keys.verify(token), 'accepted within the clock skew after exp');
  clock.advance(1);
  await t.rejects(keys.verify(token), { code: 'ERR_JWT_EXPIRED' });
});

t.test('keys are served from memory: sign, verify and the JWKS keep working while the database is down', async (t) => {
  const { db } = await createTestDatabase(t);
  let up = true;
  const guard = <T>(fn: () => Promise<T>) => (up ? fn() : Promise.reject(new Error('connection refused')));
  const flaky: Database = {
    ...db,
    query: (sql, params) => guard(() => db.query(sql, params)),
    transaction: (fn) => guard(() => db.transaction(fn)),
  };
  const clock = testClock();
  const keys = createKeyService({ db: flaky, config: keysTestConfig(), encryptionKeys: testEncryptionKeys(), now: clock.now });
  await keys.load();
  const before = keys.jwks();
  up = false;
  const token = await keys.sign(claims(), 600);
  t.ok(await keys.verify(token));
  t.equal(keys.jwks(), before, 'the very same serialized body');
  await t.rejects(keys.tick(), /connection refused/, 'the timer step fails (and is logged) …');
  t.ok(await keys.sign(claims(), 600), '… and signing carries on');
});

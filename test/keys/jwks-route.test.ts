import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { createTestDatabase } from '../helpers/db.js';
import { createTestKeys, keysTestConfig, TEST_KEYS_ISSUER, testClock } from '../helpers/keys.js';

const PUBLIC_MEMBERS = new Set(['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use']);

async function setup(t: Parameters<typeof createTestDatabase>[0], env: Record<string, string> = {}) {
  const { db } = await createTestDatabase(t);
  const clock = testClock();
  const config = keysTestConfig(env);
  const keys = await createTestKeys(db, { now: clock.now, config });
  const app = await buildApp({ config, db, keys, migrationVersion: latestMigrationVersion() });
  t.teardown(() => app.close());
  return { app, keys, clock, db };
}

t.test('GET /.well-known/jwks.json: public keys, cacheable, with an ETag', async (t) => {
  const { app, keys } = await setup(t);
  const res = await app.inject({ url: '/.well-known/jwks.json' });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['cache-control'], 'public, max-age=600');
  t.match(res.headers['content-type'], /^application\/jwk-set\+json/);
  t.match(res.headers.etag, /^"[\w-]{43}"$/);
  t.equal(res.body, keys.jwks().body, 'exactly the body kept in memory');

  const token = await keys.sign({ iss: TEST_KEYS_ISSUER, sub: 's' }, 600);
  const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(res.json()), { issuer: TEST_KEYS_ISSUER, typ: 'at+jwt' });
  t.equal(protectedHeader.typ, 'at+jwt', 'the published JWKS verifies the tokens');
  t.equal(keys.jwks(), keys.jwks(), 'serialized once, not per request');
});

t.test('only public members, unique kid, alg and use on each key, for every algorithm', async (t) => {
  const { app, keys } = await setup(t, { SIGIL_SIGNING_ALG: 'RS256', SIGIL_KEY_RSA_BITS: '2048' });
  await keys.rotation.rotate();
  const body = (await app.inject({ url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
  t.equal(body.keys.length, 2);
  t.equal(new Set(body.keys.map((k) => k.kid)).size, body.keys.length, 'unique kid');
  for (const k of body.keys) {
    t.same(Object.keys(k).filter((m) => !PUBLIC_MEMBERS.has(m)), [], `${k.kid}: public members only`);
    t.match(k, { kty: 'RSA', alg: 'RS256', use: 'sig', n: /^[\w-]+$/, e: 'AQAB' });
  }
});

t.test('If-None-Match: 304 while the set is unchanged, 200 with a new ETag after a change', async (t) => {
  const { app, keys, clock } = await setup(t);
  const first = await app.inject({ url: '/.well-known/jwks.json' });
  const etag = first.headers.etag as string;

  for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const res = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': ifNoneMatch } });
    t.equal(res.statusCode, 304, `If-None-Match: ${ifNoneMatch}`);
    t.equal(res.body, '');
    t.equal(res.headers.etag, etag);
    t.equal(res.headers['cache-control'], 'public, max-age=600');
  }
  const other = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': '"stale"' } });
  t.equal(other.statusCode, 200);

  clock.advance(60);
  await keys.rotation.rotate();
  const changed = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': etag } });
  t.equal(changed.statusCode, 200, 'a new key: the cached copy is stale');
  t.not(changed.headers.etag, etag);
  t.equal((changed.json() as JSONWebKeySet).keys.length, 2);

  // Activation changes which key signs, not what is published: same body, same ETag.
  clock.advance(keysTestConfig().keys.leadTimeSeconds);
  const after = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': changed.headers.etag as string } });
  t.equal(after.statusCode, 304);
  const head = await app.inject({ method: 'HEAD', url: '/.well-known/jwks.json' });
  t.equal(head.statusCode, 200);
  t.equal(head.headers.etag, changed.headers.etag);
});

t.test('the JWKS is served while the database is down', async (t) => {
  const { app, db } = await setup(t);
  const before = await app.inject({ url: '/.well-known/jwks.json' });
  const query = db.query;
  db.query = () => Promise.reject(new Error('connection refused'));
  t.teardown(() => {
    db.query = query;
  });
  const during = await app.inject({ url: '/.well-known/jwks.json' });
  t.equal(during.statusCode, 200);
  t.equal(during.body, before.body);
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 503, 'while readiness reports the outage');
});

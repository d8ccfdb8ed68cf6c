import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import t from 'tap';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { createClientService } from '../../src/clients/client-service.js';
import { InvalidInputError } from '../../src/db/errors.js';
import { basicAuth, buildTestApp, TEST_ISSUER } from '../helpers/app.js';

const TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

async function keyPair(alg = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `k-${randomUUID()}`;
  return { privateKey, alg, kid, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, privateJwk: await exportJWK(privateKey) };
}

type Key = Awaited<ReturnType<typeof keyPair>>;
// The standard claims first, then the test's own (undefined removes one).
const sign = (key: Key, clientId: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  const payload = Object.fromEntries(
    Object.entries({ iss: clientId, sub: clientId, aud: TEST_ISSUER, iat: now, exp: now + 60, jti: randomUUID(), ...claims }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
};

t.test('private_key_jwt: tokens for a valid assertion, every check refused with invalid_client', async (t) => {
  const { seed, clients, token, db } = await buildTestApp(t);
  const key = await keyPair();
  const other = await keyPair();
  const c = await clients.createWithKeys({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'], jwks: { keys: [key.publicJwk] } });
  t.equal(c.secretHash, null, 'no secret at all');
  const ok = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId) });
  t.equal(ok.statusCode, 200, ok.body);
  const withId = await token({ grant_type: 'client_credentials', client_id: c.clientId, client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId) });
  t.equal(withId.statusCode, 200, 'client_id matching the assertion is fine');

  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Promise<string> | string][] = [
    ['another key', sign(other, c.clientId, {}, { kid: key.kid })],
    ['unknown kid', sign(other, c.clientId)],
    ['HS256', new SignJWT({ jti: 'x' }).setProtectedHeader({ alg: 'HS256', kid: key.kid }).setIssuer(c.clientId).setSubject(c.clientId).setAudience(TEST_ISSUER).setExpirationTime('60s').sign(new Uint8Array(32))],
    ['alg none', `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: c.clientId, sub: c.clientId })).toString('base64url')}.x`],
    ['wrong aud', sign(key, c.clientId, { aud: 'https://elsewhere.test' })],
    ['iss != sub', sign(key, c.clientId, { sub: 'someone-else' })],
    ['no exp', sign(key, c.clientId, { exp: undefined })],
    ['expired', sign(key, c.clientId, { exp: now - 3600 })],
    ['exp too far', sign(key, c.clientId, { exp: now + 3600 })],
    ['iat in the future', sign(key, c.clientId, { iat: now + 600 })],
    ['nbf in the future', sign(key, c.clientId, { nbf: now + 600 })],
    ['no jti', sign(key, c.clientId, { jti: undefined })],
    ['garbage', 'not-a-jwt'],
  ];
  for (const [name, assertion] of cases) {
    const res = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await assertion });
    t.equal(res.statusCode, 401, name);
    t.equal(res.json().error, 'invalid_client', name);
    t.match(res.json().error_description, /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/, `${name}: a plain description`);
  }
  const wrongType = await token({ grant_type: 'client_credentials', client_assertion_type: 'urn:x', client_assertion: await sign(key, c.clientId) });
  t.equal(wrongType.statusCode, 401, 'wrong client_assertion_type');
  const otherId = await token({ grant_type: 'client_credentials', client_id: 'other', client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId) });
  t.equal(otherId.statusCode, 401, 'client_id differing from iss/sub');

  const replayed = await sign(key, c.clientId);
  t.equal((await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: replayed })).statusCode, 200);
  const again = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: replayed });
  t.equal(again.statusCode, 401, 'a replay is refused');
  t.match(again.json().error_description, /already used/);

  // Concurrent requests with one assertion reach the store together (src/db/spend-once.ts): one wins.
  const raced = await sign(key, c.clientId);
  const race = await Promise.all(
    Array.from({ length: 4 }, () => token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: raced })),
  );
  t.same(race.map((r) => r.statusCode).sort(), [200, 401, 401, 401], 'exactly one of four concurrent uses wins');
  for (const [name, jti] of [['NUL', 'a\0b'], ['lone surrogate', '\ud800']]) {
    const res = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId, { jti }) });
    t.equal(res.statusCode, 401, `jti with a ${name}`);
    t.match(res.json().error_description, /jti must be text/);
  }

  // Mixing methods (RFC 6749 §2.3).
  const secretClient = await seed.client({ grantTypes: ['client_credentials'] });
  const mixed = [
    await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId) }, { authorization: basicAuth(c.clientId, 'x'.repeat(43)) }),
    await token({ grant_type: 'client_credentials', client_secret: 'x', client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId) }),
    await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, 'x'.repeat(43)) }),
    await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(key, secretClient.clientId) }),
  ];
  for (const [i, res] of mixed.entries()) t.equal(res.statusCode, 401, `mixed methods ${i}`);

  const rows = await db.query<{ n: number }>('select count(*)::int as n from spent_client_assertions');
  t.ok((rows.rows[0]?.n ?? 0) >= 3, 'spent jtis are stored');
});

t.test('registration refuses private members and bad URIs; set-jwks rotates', async (t) => {
  const { db, clients, clientCache, token } = await buildTestApp(t, { clientCacheClock: () => 0 });
  if (!clientCache) throw new Error('the test drives the client cache');
  const key = await keyPair('EdDSA');
  await t.rejects(
    clients.createWithKeys({ name: 'x', grantTypes: ['client_credentials'], jwks: { keys: [key.privateJwk] } }),
    { name: 'InvalidInputError', message: /private key members/ },
  );
  await t.rejects(clients.createWithKeys({ name: 'x', grantTypes: ['client_credentials'], jwksUri: 'http://example.com/jwks' }), InvalidInputError);
  await t.rejects(clients.createWithKeys({ name: 'x', grantTypes: ['client_credentials'] }), InvalidInputError);
  const loopback = createClientService(createClientRepository(db), { allowHttpLoopbackJwksUri: true });
  await t.resolves(loopback.createWithKeys({ name: 'x', grantTypes: ['client_credentials'], jwksUri: 'http://127.0.0.1:9/jwks' }));
  await t.rejects(loopback.createWithKeys({ name: 'x', grantTypes: ['client_credentials'], jwksUri: 'http://example.com/jwks' }), InvalidInputError);

  const c = await clients.createWithKeys({ name: 'rot', grantTypes: ['client_credentials'], jwks: { keys: [key.publicJwk] } });
  const before = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId) });
  t.equal(before.statusCode, 200, 'the first key works, and the client is cached');
  const next = await keyPair('RS256');
  await clients.setJwks(c.clientId, { jwks: { keys: [next.publicJwk] } });
  // Until the cache's next version check (its clock stands still), the cached keys are used.
  const stale = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId) });
  t.equal(stale.statusCode, 200, 'the cached client still has the old key');
  await clientCache.check();
  const oldKey = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(key, c.clientId) });
  t.equal(oldKey.statusCode, 401, 'the old key no longer works');
  const newKey = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(next, c.clientId) });
  t.equal(newKey.statusCode, 200, newKey.body);
});

t.test('metadata lists private_key_jwt and its algorithms', async (t) => {
  const { app } = await buildTestApp(t);
  const m = (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json();
  for (const ep of ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
    t.ok(m[`${ep}_auth_methods_supported`].includes('private_key_jwt'), ep);
    t.same(m[`${ep}_auth_signing_alg_values_supported`], ['ES256', 'EdDSA', 'RS256', 'PS256'], ep);
  }
});

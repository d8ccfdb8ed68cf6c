import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { createPostgresDatabase } from '../../src/db/database.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { createHousekeeping, sigilPurgeTasks } from '../../src/ops/housekeeping.js';
import { basicAuth, buildTestApp, FORM, form, TEST_ISSUER } from '../helpers/app.js';
import { makeProof, proofKey, signRaw, TOKEN_URL } from '../helpers/dpop.js';

const INVALID = { error: 'invalid_dpop_proof', error_description: 'the DPoP proof is invalid' };

async function setup(t: Test, env: Record<string, string> = {}, dpopNonceKey?: Uint8Array) {
  const ctx = await buildTestApp(t, { env, ...(dpopNonceKey && { dpopNonceKey }) });
  const svc = await ctx.seed.client({ grantTypes: ['client_credentials'], scopes: ['read'] });
  const key = await proofKey();
  const cc = (headers: Record<string, string | string[]> = {}) =>
    ctx.app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': FORM, authorization: basicAuth(svc.clientId, svc.secret), ...headers },
      payload: form({ grant_type: 'client_credentials', scope: 'read' }),
    });
  return { ...ctx, svc, key, cc };
}

t.test('a valid proof gets a DPoP token bound to the proof key, and introspection says so', async (t) => {
  const { cc, key, verify, app, seed } = await setup(t);
  const res = await cc({ dpop: await makeProof(key) });
  t.equal(res.statusCode, 200, res.body);
  const body = res.json();
  t.equal(body.token_type, 'DPoP');
  const jkt = await calculateJwkThumbprint(key.publicJwk);
  const claims = await verify(body.access_token);
  t.same(claims.cnf, { jkt }, 'cnf.jkt is the RFC 7638 thumbprint of the proof key');

  const rs = await seed.client({ grantTypes: ['client_credentials'], mayIntrospect: true });
  const intro = await app.inject({
    method: 'POST',
    url: '/introspect',
    headers: { 'content-type': FORM, authorization: basicAuth(rs.clientId, rs.secret) },
    payload: form({ token: body.access_token }),
  });
  t.match(intro.json(), { active: true, token_type: 'DPoP', cnf: { jkt } });

  const bearer = await cc();
  t.equal(bearer.json().token_type, 'Bearer', 'no proof: a bearer token');
  t.notOk((await verify(bearer.json().access_token)).cnf);
});

t.test('each algorithm Sigil lists is accepted', async (t) => {
  const { cc } = await setup(t);
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) {
    const res = await cc({ dpop: await makeProof(await proofKey(alg)) });
    t.equal(res.statusCode, 200, `${alg}: ${res.body}`);
  }
});

t.test('every §4.3 check refuses its bad proof with invalid_dpop_proof (400)', async (t) => {
  const { cc, key } = await setup(t);
  const other = await proofKey();
  const now = Math.floor(Date.now() / 1000);
  const { privateKey: hsKey } = { privateKey: new Uint8Array(randomBytes(32)) };
  const privateJwk = await exportJWK(key.privateKey);
  const [h, p] = (await makeProof(key)).split('.');
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })).toString('base64url')}.${p}.`;
  const cases: Record<string, string | Promise<string>> = {
    'not a JWS': 'not-a-jwt',
    'two segments': `${h}.${p}`,
    'typ missing': makeProof(key, { typ: 'JWT' }),
    'typ jwt': makeProof(key, { typ: 'jwt' }),
    'alg none': unsigned,
    'alg HS256': new SignJWT({ htm: 'POST', htu: TOKEN_URL, iat: now, jti: 'x' })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.publicJwk })
      .sign(hsKey),
    'jwk missing': makeProof(key, { jwk: null }),
    'jwk with private members': makeProof(key, { jwk: privateJwk }),
    'jwk of another type than alg': makeProof(key, { extraHeader: { alg: 'ES256' }, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } }),
    'signed with another key': makeProof(other, { jwk: key.publicJwk }),
    'crit header': signRaw(key, { alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk, crit: ['exp'], exp: 1 }, { htm: 'POST', htu: TOKEN_URL, iat: now, jti: 'c' }),
    'jti missing': makeProof(key, { jti: undefined }),
    'jti not a string': makeProof(key, { jti: 42 }),
    'htm GET': makeProof(key, { htm: 'GET' }),
    'htm missing': makeProof(key, { htm: undefined }),
    'htu another URL': makeProof(key, { htu: `${TEST_ISSUER}/introspect` }),
    'htu another host': makeProof(key, { htu: 'https://evil.test/token' }),
    'htu http instead of https': makeProof(key, { htu: 'http://sigil.test/token' }),
    'htu not a URL': makeProof(key, { htu: 'token' }),
    'iat too old': makeProof(key, { iat: now - 60 - 60 - 5 }),
    'iat in the future': makeProof(key, { iat: now + 60 + 30 }),
    'iat not a number': makeProof(key, { iat: String(now) }),
  };
  for (const [name, proof] of Object.entries(cases)) {
    const res = await cc({ dpop: await proof });
    t.equal(res.statusCode, 400, name);
    t.same(res.json(), INVALID, name);
  }
  const raw = await cc({ dpop: signRaw(key, { alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk }, { htm: 'POST', htu: TOKEN_URL, iat: now, jti: 'raw' }) });
  t.equal(raw.statusCode, 200, 'the raw signer makes good proofs (so the crit case fails for crit alone)');
  const two = await cc({ dpop: [await makeProof(key), await makeProof(key)] });
  t.equal(two.statusCode, 400, 'two DPoP headers');
  t.same(two.json(), { error: 'invalid_dpop_proof', error_description: 'exactly one DPoP header is allowed' });
});

t.test('htu is compared after normalisation, without query or fragment', async (t) => {
  const { cc, key } = await setup(t);
  for (const htu of ['HTTPS://SIGIL.TEST:443/token', 'https://sigil.test/token?x=1#f', 'https://sigil.test/%74oken']) {
    const res = await cc({ dpop: await makeProof(key, { htu }) });
    t.equal(res.statusCode, 200, `${htu}: ${res.body}`);
  }
});

t.test('a replayed proof is refused, on this instance and on a second one on the same database', async (t) => {
  const a = await setup(t);
  const proof = await makeProof(a.key);
  t.equal((await a.cc({ dpop: proof })).statusCode, 200);
  const again = await a.cc({ dpop: proof });
  t.equal(again.statusCode, 400);
  t.same(again.json(), { error: 'invalid_dpop_proof', error_description: 'the DPoP proof was already used' });

  // Instance B: its own app (and, on PostgreSQL, its own connection pool) over the same database.
  const dbB = a.url ? createPostgresDatabase(a.url, { poolSize: 2 }) : a.db;
  if (a.url) t.teardown(() => dbB.close());
  const b = await buildApp({ config: a.config, db: dbB, keys: a.keys, migrationVersion: latestMigrationVersion() });
  t.teardown(() => b.close());
  const fresh = await makeProof(a.key);
  const toB = (dpop: string) =>
    b.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': FORM, authorization: basicAuth(a.svc.clientId, a.svc.secret), dpop },
      payload: form({ grant_type: 'client_credentials' }),
    });
  t.equal((await a.cc({ dpop: fresh })).statusCode, 200, 'used on A');
  const replayed = await toB(fresh);
  t.equal(replayed.statusCode, 400, 'replayed to B');
  t.equal(replayed.json().error, 'invalid_dpop_proof');
  t.equal((await toB(proof)).statusCode, 400, 'the first proof too');

  // The same jti under another key is another proof (ids are unique per key).
  const sameJti = await makeProof(await proofKey(), { jti: 'shared-id' });
  t.equal((await a.cc({ dpop: await makeProof(a.key, { jti: 'shared-id' }) })).statusCode, 200);
  t.equal((await toB(sameJti)).statusCode, 200);
});

t.test('spent proof ids are purged by housekeeping once their proof has expired', async (t) => {
  const { cc, key, db, config } = await setup(t);
  t.equal((await cc({ dpop: await makeProof(key) })).statusCode, 200);
  const count = async () => Number((await db.query<{ n: string }>('select count(*) as n from dpop_proof_jtis')).rows[0]?.n);
  t.equal(await count(), 1);
  const now = () => new Date();
  t.same((await createHousekeeping(db, sigilPurgeTasks(db, config, now)).runOnce())?.dpop_proof_jtis, 0, 'kept while it could be replayed');
  const later = () => new Date(Date.now() + (config.dpop.proofWindowSeconds + config.keys.clockSkewSeconds + 5) * 1000);
  t.same((await createHousekeeping(db, sigilPurgeTasks(db, config, later)).runOnce())?.dpop_proof_jtis, 1);
  t.equal(await count(), 0);
});

t.test('a DPoP login binds its refresh tokens to the key: another key or no proof is refused', async (t) => {
  const ctx = await buildTestApp(t);
  const client = await ctx.seed.client({ grantTypes: ['password'], scopes: ['read'] });
  await ctx.seed.user('iris', 'iris-password', { scopes: ['read'] });
  const auth = { client_id: client.clientId, client_secret: client.secret };
  const key = await proofKey();
  const login = await ctx.token(
    { ...auth, grant_type: 'password', username: 'iris', password: 'iris-password', scope: 'read' },
    { dpop: await makeProof(key) },
  );
  t.equal(login.statusCode, 200, login.body);
  t.equal(login.json().token_type, 'DPoP');
  const jkt = await calculateJwkThumbprint(key.publicJwk);
  const row = (await ctx.db.query<{ dpop_jkt: string }>('select dpop_jkt from refresh_token_families')).rows[0];
  t.equal(row?.dpop_jkt, jkt, 'the family is bound to the key');

  const refresh = async (dpop?: string, token = login.json().refresh_token as string) =>
    ctx.token({ ...auth, grant_type: 'refresh_token', refresh_token: token }, dpop ? { dpop } : {});
  const wrongKey = { error: 'invalid_grant', error_description: 'the refresh token is bound to another DPoP key: send a proof made with that key' };
  const other = await refresh(await makeProof(await proofKey()));
  t.equal(other.statusCode, 400);
  t.same(other.json(), wrongKey, 'another key');
  const none = await refresh();
  t.equal(none.statusCode, 400);
  t.same(none.json(), wrongKey, 'no proof');

  const ok = await refresh(await makeProof(key));
  t.equal(ok.statusCode, 200, 'the refused attempts left the token unspent and the family alive');
  t.equal(ok.json().token_type, 'DPoP');
  t.same((await ctx.verify(ok.json().access_token)).cnf, { jkt });
  const next = await refresh(await makeProof(await proofKey()), ok.json().refresh_token);
  t.same(next.json(), wrongKey, 'the successor is bound too');
  const scoped = await ctx.token(
    { ...auth, grant_type: 'refresh_token', refresh_token: ok.json().refresh_token, scope: 'read' },
    { dpop: await makeProof(await proofKey()) },
  );
  t.same(scoped.json(), wrongKey, 'also on the path that checks a requested scope');

  // A bearer login stays a bearer family; refreshing it with a proof gives a DPoP access token.
  const bearer = await ctx.token({ ...auth, grant_type: 'password', username: 'iris', password: 'iris-password' });
  const upgraded = await refresh(await makeProof(key), bearer.json().refresh_token);
  t.equal(upgraded.statusCode, 200);
  t.equal(upgraded.json().token_type, 'DPoP');
});

t.test('nonces (§8): use_dpop_nonce with a DPoP-Nonce, then accepted, on any instance sharing the key', async (t) => {
  const nonceKey = randomBytes(32);
  const a = await setup(t, { SIGIL_DPOP_NONCE: 'true' }, nonceKey);
  const first = await a.cc({ dpop: await makeProof(a.key) });
  t.equal(first.statusCode, 400);
  t.same(first.json(), { error: 'use_dpop_nonce', error_description: 'the authorization server requires a nonce in the DPoP proof' });
  const nonce = first.headers['dpop-nonce'];
  t.type(nonce, 'string');
  t.match(nonce, /^[\w-]{20,}$/);

  const bad = await a.cc({ dpop: await makeProof(a.key, { nonce: 'not-the-nonce' }) });
  t.equal(bad.json().error, 'use_dpop_nonce');
  t.equal(bad.headers['dpop-nonce'], nonce);

  const ok = await a.cc({ dpop: await makeProof(a.key, { nonce: nonce as string }) });
  t.equal(ok.statusCode, 200, ok.body);
  t.equal(ok.headers['dpop-nonce'], nonce, 'a success carries the current nonce');

  const b = await buildApp({ config: a.config, db: a.db, keys: a.keys, migrationVersion: latestMigrationVersion(), dpopNonceKey: nonceKey });
  t.teardown(() => b.close());
  const onB = await b.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': FORM, authorization: basicAuth(a.svc.clientId, a.svc.secret), dpop: await makeProof(a.key, { nonce: nonce as string }) },
    payload: form({ grant_type: 'client_credentials' }),
  });
  t.equal(onB.statusCode, 200, 'another instance with the same key accepts it, with no database write');

  const c = await buildApp({ config: a.config, db: a.db, keys: a.keys, migrationVersion: latestMigrationVersion() });
  t.teardown(() => c.close());
  const onC = await c.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': FORM, authorization: basicAuth(a.svc.clientId, a.svc.secret), dpop: await makeProof(a.key, { nonce: nonce as string }) },
    payload: form({ grant_type: 'client_credentials' }),
  });
  t.equal(onC.json().error, 'use_dpop_nonce', 'another key: not accepted');

  const off = await setup(t);
  t.notOk((await off.cc({ dpop: await makeProof(off.key) })).headers['dpop-nonce'], 'no nonce when off');
});

t.test('a client registered with require_dpop gets nothing without a proof', async (t) => {
  const ctx = await buildTestApp(t);
  const c = await ctx.seed.client({ grantTypes: ['client_credentials'], requireDpop: true });
  const res = await ctx.token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, c.secret) });
  t.equal(res.statusCode, 400);
  t.same(res.json(), { error: 'invalid_dpop_proof', error_description: 'this client must send a DPoP proof' });
  const key = await proofKey();
  const ok = await ctx.token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, c.secret), dpop: await makeProof(key) });
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().token_type, 'DPoP');
});

t.test('metadata lists the DPoP algorithms', async (t) => {
  const { app } = await buildTestApp(t);
  const meta = (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json();
  t.same(meta.dpop_signing_alg_values_supported, ['ES256', 'EdDSA', 'RS256', 'PS256']);
});

t.test('a proof for another key pair type generated by jose is verified as jose would', async (t) => {
  // Sanity check of the thumbprint code against jose on an RSA key.
  const { cc } = await setup(t);
  const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const res = await cc({ dpop: await makeProof({ alg: 'PS256', privateKey, publicJwk }) });
  t.equal(res.statusCode, 200);
});

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { createPostgresDatabase } from '../../src/db/database.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { createClientService } from '../../src/clients/client-service.js';
import { buildTestApp, FORM, form, TEST_ISSUER } from '../helpers/app.js';
import { ON_POSTGRES } from '../helpers/db.js';

const TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

async function key(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}
type Key = Awaited<ReturnType<typeof key>>;
const sign = (k: Key, clientId: string) =>
  new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', kid: k.kid }).setIssuer(clientId).setSubject(clientId)
    .setAudience(`${TEST_ISSUER}/token`).setIssuedAt().setExpirationTime('60s').sign(k.privateKey);

t.test('jwks_uri: fetched, cached, refetched on an unknown kid; size, timeout and failures give invalid_client', async (t) => {
  const a = await key('a');
  const b = await key('b');
  let served: unknown = { keys: [a.publicJwk] };
  let hits = 0;
  let mode: 'ok' | 'big' | 'slow' | '500' = 'ok';
  const server = createServer((_req, res) => {
    hits++;
    if (mode === 'slow') return; // never answers
    if (mode === '500') return res.writeHead(500).end();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' });
    res.end(mode === 'big' ? JSON.stringify({ keys: [], pad: 'x'.repeat(100_000) }) : JSON.stringify(served));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const port = (server.address() as AddressInfo).port;

  const { db, token } = await buildTestApp(t, { env: { SIGIL_CLIENT_JWKS_ALLOW_HTTP_LOOPBACK: 'true' } });
  const clients = createClientService(createClientRepository(db), { allowHttpLoopbackJwksUri: true });
  const c = await clients.createWithKeys({ name: 'uri', grantTypes: ['client_credentials'], jwksUri: `http://127.0.0.1:${port}/jwks` });
  const call = async (k: Key) => token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(k, c.clientId) });

  t.equal((await call(a)).statusCode, 200, 'key fetched from jwks_uri');
  t.equal((await call(a)).statusCode, 200);
  t.equal(hits, 1, 'cached');
  served = { keys: [a.publicJwk, b.publicJwk] };
  t.equal((await call(b)).statusCode, 200, 'an unknown kid refetches');
  t.equal(hits, 2);
  const unknown = await key('c');
  t.equal((await call(unknown)).statusCode, 401, 'still unknown');
  t.equal(hits, 2, 'refetch is rate-limited');

  for (const m of ['big', '500', 'slow'] as const) {
    mode = m;
    const fresh = await clients.createWithKeys({ name: m, grantTypes: ['client_credentials'], jwksUri: `http://127.0.0.1:${port}/${m}` });
    const res = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(a, fresh.clientId) });
    t.equal(res.statusCode, 401, `${m}: invalid_client`);
    t.equal(res.json().error, 'invalid_client');
  }
});

t.test('jwks_uri over http is not fetched unless development allows it', async (t) => {
  const { db, token } = await buildTestApp(t);
  const clients = createClientService(createClientRepository(db), { allowHttpLoopbackJwksUri: true });
  const c = await clients.createWithKeys({ name: 'uri', grantTypes: ['client_credentials'], jwksUri: 'http://127.0.0.1:9/jwks' });
  const res = await token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await sign(await key('a'), c.clientId) });
  t.equal(res.statusCode, 401);
  t.match(res.json().error_description, /not an allowed URL/);
});

t.test('an assertion replayed to a second instance is refused', { skip: !ON_POSTGRES && 'needs PostgreSQL' }, async (t) => {
  const a = await buildTestApp(t);
  const dbB = createPostgresDatabase(a.url, { poolSize: 2 });
  t.teardown(() => dbB.close());
  const b = await buildApp({ config: a.config, db: dbB, keys: a.keys, migrationVersion: latestMigrationVersion() });
  t.teardown(() => b.close());
  const k = await key('a');
  const c = await a.clients.createWithKeys({ name: 'svc', grantTypes: ['client_credentials'], jwks: { keys: [k.publicJwk] } });
  const assertion = await sign(k, c.clientId);
  const payload = form({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: assertion });
  t.equal((await a.token(payload)).statusCode, 200);
  const replay = await b.inject({ method: 'POST', url: '/token', headers: { 'content-type': FORM }, payload });
  t.equal(replay.statusCode, 401, 'instance B refuses the jti spent on A');
  t.equal(replay.json().error, 'invalid_client');
});

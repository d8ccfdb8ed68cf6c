import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import t from 'tap';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { createClientService } from '../../src/clients/client-service.js';
import { buildTestApp } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';
import { recordSecret } from '../helpers/secret-scan.js';

// oauth4webapi's PrivateKeyJwt client authentication (RFC 7523 §2.2) against a listening Sigil:
// the library builds and signs the assertions itself (aud = the issuer, a fresh jti each time),
// so every check Sigil makes meets an implementation nobody here wrote.

const insecure = { [oauth.allowInsecureRequests]: true };

/** A key pair from the library, its public JWK as a client registers it, and its private parts recorded for the log scan. */
async function clientKey(alg: string, kid?: string) {
  const pair = await oauth.generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(pair.publicKey)), alg, use: 'sig', ...(kid && { kid }) };
  const privateJwk = await exportJWK(pair.privateKey);
  recordSecret(privateJwk.d);
  return { publicJwk, auth: oauth.PrivateKeyJwt(kid ? { key: pair.privateKey, kid } : pair.privateKey) };
}

async function listeningSigil(t: { teardown(fn: () => unknown): void }) {
  const port = await freePort();
  const issuerUrl = `http://127.0.0.1:${port}`;
  const built = await buildTestApp(t, { env: { SIGIL_ISSUER: issuerUrl, SIGIL_CLIENT_JWKS_ALLOW_HTTP_LOOPBACK: 'true' } });
  await built.app.listen({ port, host: '127.0.0.1' });
  const issuer = new URL(issuerUrl);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  // Loopback http jwks_uri, as the server above allows.
  const clients = createClientService(createClientRepository(built.db), { allowHttpLoopbackJwksUri: true });
  return { ...built, as, clients };
}

const tokens = <R extends { access_token: string; refresh_token?: string }>(r: R): R => {
  recordSecret(r.access_token, r.refresh_token);
  return r;
};

t.test('discovery: the library reads private_key_jwt and its algorithms from Sigil\'s metadata; each one works', async (t) => {
  const { as, clients } = await listeningSigil(t);
  t.ok(as.token_endpoint_auth_methods_supported?.includes('private_key_jwt'), 'token endpoint');
  t.ok(as.introspection_endpoint_auth_methods_supported?.includes('private_key_jwt'), 'introspection endpoint');
  t.ok(as.revocation_endpoint_auth_methods_supported?.includes('private_key_jwt'), 'revocation endpoint');
  const algs = as.token_endpoint_auth_signing_alg_values_supported ?? [];
  t.same(algs, ['ES256', 'EdDSA', 'RS256', 'PS256']);
  for (const [i, alg] of algs.entries()) {
    // Every other one without a kid: Sigil then tries the client's keys. For EdDSA the library
    // sends RFC 9864's name for it, Ed25519.
    const key = await clientKey(alg, i % 2 === 0 ? `${alg}-1` : undefined);
    const c = await clients.createWithKeys({ name: `svc ${alg}`, grantTypes: ['client_credentials'], scopes: ['read'], jwks: { keys: [key.publicJwk] } });
    const client: oauth.Client = { client_id: c.clientId };
    const cc = tokens(
      await oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, key.auth, { scope: 'read' }, insecure)),
    );
    t.equal(cc.token_type, 'bearer', `${alg}: a token`);
    t.equal(cc.scope, 'read');
  }
});

t.test('inline JWKS: client_credentials, password, refresh, introspection and revocation with PrivateKeyJwt', async (t) => {
  const { as, clients, seed } = await listeningSigil(t);
  const key = await clientKey('ES256', 'svc-1');
  const c = await clients.createWithKeys({ name: 'svc', grantTypes: ['client_credentials', 'password'], scopes: ['read'], jwks: { keys: [key.publicJwk] } });
  t.equal(c.secretHash, null, 'no shared secret at all');
  await seed.user('ada', 'ada-password', { scopes: ['read'] });
  const client: oauth.Client = { client_id: c.clientId };

  const cc = tokens(await oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, key.auth, { scope: 'read' }, insecure)));
  t.equal(cc.token_type, 'bearer');

  const login = tokens(
    await oauth.processGenericTokenEndpointResponse(
      as,
      client,
      await oauth.genericTokenEndpointRequest(as, client, key.auth, 'password', { username: 'ada', password: 'ada-password', scope: 'read' }, insecure),
    ),
  );
  t.type(login.refresh_token, 'string', 'a login with a refresh token');
  const refreshed = tokens(
    await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, key.auth, login.refresh_token as string, insecure)),
  );
  t.not(refreshed.refresh_token, login.refresh_token, 'rotated');

  const active = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, key.auth, refreshed.access_token, insecure));
  t.equal(active.active, true);
  t.equal(active.client_id, c.clientId);
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, key.auth, refreshed.refresh_token as string, insecure));
  const revoked = await oauth
    .processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, key.auth, refreshed.refresh_token as string, insecure))
    .catch((e: unknown) => e);
  t.match(revoked, { name: 'ResponseBodyError', error: 'invalid_grant', status: 400 }, 'the revoked refresh token is refused');
});

t.test('jwks_uri served by a local server: tokens with the published key', async (t) => {
  const key = await clientKey('EdDSA', 'uri-1');
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end(JSON.stringify({ keys: [key.publicJwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const { as, clients } = await listeningSigil(t);
  const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  const c = await clients.createWithKeys({ name: 'svc uri', grantTypes: ['client_credentials'], scopes: ['read'], jwksUri });
  const client: oauth.Client = { client_id: c.clientId };
  for (let i = 0; i < 2; i++) {
    const cc = tokens(await oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, key.auth, { scope: 'read' }, insecure)));
    t.equal(cc.token_type, 'bearer', `token ${i + 1}`);
  }
  t.equal(hits, 1, 'the jwks_uri was fetched once, then cached');
});

t.test('a key the client did not register is refused with invalid_client, inline or by jwks_uri', async (t) => {
  const key = await clientKey('ES256', 'k1');
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [key.publicJwk] })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const { as, clients } = await listeningSigil(t);
  const inline = await clients.createWithKeys({ name: 'inline', grantTypes: ['client_credentials'], scopes: ['read'], jwks: { keys: [key.publicJwk] } });
  const byUri = await clients.createWithKeys({
    name: 'uri',
    grantTypes: ['client_credentials'],
    scopes: ['read'],
    jwksUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
  });
  // Another key under the registered kid, another key with no kid, another algorithm under the kid.
  const sameKid = await clientKey('ES256', 'k1');
  const noKid = await clientKey('ES256');
  const otherAlg = await clientKey('EdDSA', 'k1');
  for (const registered of [inline, byUri]) {
    const client: oauth.Client = { client_id: registered.clientId };
    for (const [what, auth] of [
      ['another key, the same kid', sameKid.auth],
      ['another key, no kid', noKid.auth],
      ['another algorithm, the same kid', otherAlg.auth],
    ] as const) {
      const refused = await oauth
        .processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'read' }, insecure))
        .catch((e: unknown) => e);
      t.match(refused, { name: 'ResponseBodyError', error: 'invalid_client', status: 401 }, `${registered.name}: ${what}`);
    }
  }
  for (const registered of [inline, byUri]) {
    const client: oauth.Client = { client_id: registered.clientId };
    const cc = tokens(await oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, key.auth, {}, insecure)));
    t.equal(cc.token_type, 'bearer', `${registered.name}: the registered key still works`);
  }
});

import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';

// oauth4webapi's DPoP handle against a listening Sigil with nonces on: the first request of each
// kind meets use_dpop_nonce, the library keeps the DPoP-Nonce, and the retry succeeds.
t.test('oauth4webapi obtains and refreshes DPoP-bound tokens, through the nonce round trip', async (t) => {
  const port = await freePort();
  const issuerUrl = `http://127.0.0.1:${port}`;
  const { app, seed } = await buildTestApp(t, { env: { SIGIL_ISSUER: issuerUrl, SIGIL_DPOP_NONCE: 'true' } });
  await app.listen({ port, host: '127.0.0.1' });
  const registered = await seed.client({ grantTypes: ['client_credentials', 'password'], scopes: ['read'], requireDpop: true });
  await seed.user('ada', 'ada-password', { scopes: ['read'] });

  const insecure = { [oauth.allowInsecureRequests]: true };
  const issuer = new URL(issuerUrl);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  t.same(as.dpop_signing_alg_values_supported, ['ES256', 'EdDSA', 'RS256', 'PS256']);
  const client: oauth.Client = { client_id: registered.clientId };
  const keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
  const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
  const DPoP = oauth.DPoP(client, keyPair);
  const auth = oauth.ClientSecretBasic(registered.secret);

  // Retries once when the server asks for a nonce; counts the asks.
  let nonceErrors = 0;
  async function withNonceRetry<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      if (!oauth.isDPoPNonceError(err)) throw err;
      nonceErrors++;
      return request();
    }
  }

  const cc = await withNonceRetry(async () =>
    oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'read' }, { DPoP, ...insecure })),
  );
  t.equal(nonceErrors, 1, 'the first request met use_dpop_nonce');
  t.equal(cc.token_type, 'dpop');
  t.same(decodeJwt(cc.access_token).cnf, { jkt }, 'cnf.jkt is the key of the library\'s proofs');

  const login = await withNonceRetry(async () =>
    oauth.processGenericTokenEndpointResponse(
      as,
      client,
      await oauth.genericTokenEndpointRequest(as, client, auth, 'password', { username: 'ada', password: 'ada-password', scope: 'read' }, { DPoP, ...insecure }),
    ),
  );
  t.equal(nonceErrors, 1, 'the nonce the library kept is accepted');
  t.equal(login.token_type, 'dpop');
  t.type(login.refresh_token, 'string');

  const refreshed = await withNonceRetry(async () =>
    oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, login.refresh_token as string, { DPoP, ...insecure })),
  );
  t.equal(refreshed.token_type, 'dpop');
  t.same(decodeJwt(refreshed.access_token).cnf, { jkt });
  t.not(refreshed.refresh_token, login.refresh_token, 'rotated');

  // The same refresh token chain with another key pair is refused.
  const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
  const stolen = await withNonceRetry(async () =>
    oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token as string, { DPoP: thief, ...insecure })),
  ).catch((e: unknown) => e);
  t.match(stolen, { name: 'ResponseBodyError', error: 'invalid_grant', status: 400 });
});

// oauth4webapi writes RFC 9864's `Ed25519` (not `EdDSA`) in the header of an Ed25519 key's proofs.
t.test('oauth4webapi DPoP proofs with an Ed25519 key', async (t) => {
  const port = await freePort();
  const issuerUrl = `http://127.0.0.1:${port}`;
  const { app, seed } = await buildTestApp(t, { env: { SIGIL_ISSUER: issuerUrl } });
  await app.listen({ port, host: '127.0.0.1' });
  const registered = await seed.client({ grantTypes: ['client_credentials'], scopes: ['read'], requireDpop: true });
  const insecure = { [oauth.allowInsecureRequests]: true };
  const issuer = new URL(issuerUrl);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  const client: oauth.Client = { client_id: registered.clientId };
  const keyPair = await oauth.generateKeyPair('Ed25519', { extractable: true });
  const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
  const cc = await oauth.processClientCredentialsResponse(
    as,
    client,
    await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(registered.secret), { scope: 'read' }, {
      DPoP: oauth.DPoP(client, keyPair),
      ...insecure,
    }),
  );
  t.equal(cc.token_type, 'dpop');
  t.same(decodeJwt(cc.access_token).cnf, { jkt });
});

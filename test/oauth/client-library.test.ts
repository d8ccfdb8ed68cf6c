import * as oauth from 'oauth4webapi';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';


// A standard OAuth client library, strict about the specs, discovers Sigil over real HTTP.
t.test('oauth4webapi discovers Sigil and gets tokens with both grants', async (t) => {
  const port = await freePort();
  const issuerUrl = `http://127.0.0.1:${port}`;
  const { app, seed } = await buildTestApp(t, { env: { SIGIL_ISSUER: issuerUrl } });
  await app.listen({ port, host: '127.0.0.1' });
  const registered = await seed.client({ grantTypes: ['client_credentials', 'password'], scopes: ['read', 'write'] });
  await seed.user('grace', 'grace-password', { scopes: ['read', 'write'] });

  const insecure = { [oauth.allowInsecureRequests]: true };
  const issuer = new URL(issuerUrl);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
  );
  t.equal(as.issuer, issuerUrl);
  const client: oauth.Client = { client_id: registered.clientId };

  const ccResponse = await oauth.clientCredentialsGrantRequest(
    as,
    client,
    oauth.ClientSecretBasic(registered.secret),
    { scope: 'read' },
    insecure,
  );
  const cc = await oauth.processClientCredentialsResponse(as, client, ccResponse);
  t.equal(cc.token_type, 'bearer');
  t.equal(cc.scope, 'read');
  t.type(cc.access_token, 'string');

  const pwResponse = await oauth.genericTokenEndpointRequest(
    as,
    client,
    oauth.ClientSecretPost(registered.secret),
    'password',
    { username: 'grace', password: 'grace-password', scope: 'read write' },
    insecure,
  );
  const pw = await oauth.processGenericTokenEndpointResponse(as, client, pwResponse);
  t.type(pw.access_token, 'string');
  t.equal(pw.scope, 'read write');

  const refused = await oauth.genericTokenEndpointRequest(
    as,
    client,
    oauth.ClientSecretPost(registered.secret),
    'password',
    { username: 'grace', password: 'wrong' },
    insecure,
  );
  const error = await oauth.processGenericTokenEndpointResponse(as, client, refused).catch((e: unknown) => e);
  t.match(error, { name: 'ResponseBodyError', error: 'invalid_grant', status: 400 }, 'the library reads the OAuth error');
});

t.test('oauth4webapi refreshes, introspects and revokes', async (t) => {
  const port = await freePort();
  const issuerUrl = `http://127.0.0.1:${port}`;
  const { app, seed } = await buildTestApp(t, { env: { SIGIL_ISSUER: issuerUrl } });
  await app.listen({ port, host: '127.0.0.1' });
  const registered = await seed.client({ grantTypes: ['password'], scopes: ['read'] });
  const rsRegistered = await seed.client({ grantTypes: ['client_credentials'], mayIntrospect: true });
  await seed.user('kim', 'kim-password');

  const insecure = { [oauth.allowInsecureRequests]: true };
  const issuer = new URL(issuerUrl);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  const client: oauth.Client = { client_id: registered.clientId };
  const auth = oauth.ClientSecretBasic(registered.secret);
  const rs: oauth.Client = { client_id: rsRegistered.clientId };
  const rsAuth = oauth.ClientSecretBasic(rsRegistered.secret);

  const login = await oauth.processGenericTokenEndpointResponse(
    as,
    client,
    await oauth.genericTokenEndpointRequest(as, client, auth, 'password', { username: 'kim', password: 'kim-password' }, insecure),
  );
  t.type(login.refresh_token, 'string');

  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, auth, login.refresh_token ?? '', insecure),
  );
  t.not(refreshed.refresh_token, login.refresh_token, 'rotated');

  const active = await oauth.processIntrospectionResponse(
    as,
    rs,
    await oauth.introspectionRequest(as, rs, rsAuth, refreshed.access_token, insecure),
  );
  t.equal(active.active, true);
  t.equal(active.username, 'kim');

  const revoked = await oauth.revocationRequest(as, client, auth, refreshed.refresh_token ?? '', insecure);
  await oauth.processRevocationResponse(revoked);
  const gone = await oauth.processIntrospectionResponse(
    as,
    rs,
    await oauth.introspectionRequest(as, rs, rsAuth, refreshed.refresh_token ?? '', { ...insecure, additionalParameters: { token_type_hint: 'refresh_token' } }),
  );
  t.equal(gone.active, false, 'the revoked refresh token is inactive');
});

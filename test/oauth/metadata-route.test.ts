import t from 'tap';
import { buildTestApp, TEST_ISSUER } from '../helpers/app.js';

t.test('RFC 8414 metadata: endpoints, grants, auth methods, scopes; the issuer of the tokens', async (t) => {
  const { app, seed, token, verify } = await buildTestApp(t);
  const c = await seed.client({ grantTypes: ['client_credentials'], scopes: ['b', 'a'] });
  await seed.client({ grantTypes: ['client_credentials'], scopes: ['other'] });
  const res = await app.inject({ url: '/.well-known/oauth-authorization-server' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['cache-control'], /max-age=/);
  const m = res.json();
  t.match(m, {
    issuer: TEST_ISSUER,
    token_endpoint: `${TEST_ISSUER}/token`,
    jwks_uri: `${TEST_ISSUER}/.well-known/jwks.json`,
    grant_types_supported: ['client_credentials', 'password', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    introspection_endpoint: `${TEST_ISSUER}/introspect`,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint: `${TEST_ISSUER}/revoke`,
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    response_types_supported: [],
  });
  t.same(m.scopes_supported, ['a', 'b', 'other']);
  const issued = await token({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret });
  t.equal((await verify(issued.json().access_token)).iss, m.issuer, 'tokens and metadata name the same issuer');
});

import { createLocalJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import t from 'tap';
import { parseConfig } from '../../src/config.js';
import { buildTestApp } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';

// RFC 8414 §3.1: an issuer with a path (https://host/tenant) has its metadata at
// /.well-known/oauth-authorization-server/tenant, and every endpoint in it under the path.

const ISSUER = 'https://sigil.test/tenant';
const WELL_KNOWN = '/.well-known/oauth-authorization-server';

t.test('the metadata of an issuer with a path: where it is served, and its endpoints', async (t) => {
  const { app } = await buildTestApp(t, { env: { SIGIL_ISSUER: `${ISSUER}/` } });
  const res = await app.inject({ url: `${WELL_KNOWN}/tenant` });
  t.equal(res.statusCode, 200, 'the well-known segment between host and path');
  t.match(res.headers['content-type'], /^application\/json/);
  t.equal(res.headers['x-content-type-options'], 'nosniff', 'a public document, as at the root');
  const m = res.json();
  t.match(m, {
    issuer: ISSUER,
    token_endpoint: `${ISSUER}/token`,
    jwks_uri: `${ISSUER}/.well-known/jwks.json`,
    introspection_endpoint: `${ISSUER}/introspect`,
    revocation_endpoint: `${ISSUER}/revoke`,
  });
  t.equal((await app.inject({ url: `${WELL_KNOWN}/tenant?x=1` })).json().issuer, ISSUER, 'a query string does not matter');
  // Sigil's own root, i.e. https://host/tenant/.well-known/… behind a proxy that strips /tenant,
  // or the same URL reaching Sigil unstripped: the same document (the OpenID-style location).
  t.same((await app.inject({ url: WELL_KNOWN })).json(), m, 'the old location: the same document');
  t.same((await app.inject({ url: `/tenant${WELL_KNOWN}` })).json(), m);
  t.equal((await app.inject({ url: `${WELL_KNOWN}/other` })).statusCode, 404, 'another path is another issuer: not this one');
  t.equal((await app.inject({ url: `${WELL_KNOWN}/tenant/x` })).statusCode, 404);
  t.equal((await app.inject({ url: '/tenantx/.well-known/jwks.json' })).statusCode, 404, 'a prefix is a whole segment');
});

t.test('behind a proxy that strips the path, or reached with it: the same endpoints and tokens', async (t) => {
  const { app, seed } = await buildTestApp(t, { env: { SIGIL_ISSUER: ISSUER } });
  const c = await seed.client({ grantTypes: ['client_credentials'], scopes: ['read'], mayIntrospect: true });
  const form = `grant_type=client_credentials&client_id=${c.clientId}&client_secret=${c.secret}`;
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  for (const prefix of ['', '/tenant']) {
    const issued = await app.inject({ method: 'POST', url: `${prefix}/token`, headers, payload: form });
    t.equal(issued.statusCode, 200, `POST ${prefix}/token`);
    const jwks = createLocalJWKSet((await app.inject({ url: `${prefix}/.well-known/jwks.json` })).json());
    const { payload } = await jwtVerify(issued.json().access_token, jwks, { issuer: ISSUER, typ: 'at+jwt' });
    t.equal(payload.aud, ISSUER, 'the default audience is the issuer, path included');
    const introspected = await app.inject({
      method: 'POST',
      url: `${prefix}/introspect`,
      headers,
      payload: `token=${issued.json().access_token}&client_id=${c.clientId}&client_secret=${c.secret}`,
    });
    t.match(introspected.json(), { active: true, iss: ISSUER });
  }
});

t.test('SIGIL_ISSUER: a trailing slash is dropped; empty, "." or ".." path segments are refused', async (t) => {
  t.equal(parseConfig({ SIGIL_ISSUER: 'https://a.example/t/x/' }).issuer, 'https://a.example/t/x');
  for (const bad of ['https://a.example//t', 'https://a.example/t//x', 'https://a.example/./t', 'https://a.example/t/..']) {
    t.throws(() => parseConfig({ SIGIL_ISSUER: bad }), /SIGIL_ISSUER: must not have empty/, bad);
  }
});

t.test('an issuer path that begins like one of Sigil’s own routes is refused at start', async (t) => {
  for (const path of ['/admin', '/token/x', '/.well-known']) {
    await t.rejects(buildTestApp(t, { env: { SIGIL_ISSUER: `https://sigil.test${path}` } }), /SIGIL_ISSUER's path/, path);
  }
});

// A strict client library, over real HTTP and without a proxy: discovery as RFC 8414 says
// (oauth4webapi's 'oauth2' algorithm inserts the well-known segment), then the endpoints it names.
t.test('oauth4webapi discovers an issuer with a path and uses its endpoints', async (t) => {
  const port = await freePort();
  const issuerUrl = `http://127.0.0.1:${port}/tenant`;
  const { app, seed } = await buildTestApp(t, { env: { SIGIL_ISSUER: issuerUrl } });
  await app.listen({ port, host: '127.0.0.1' });
  const registered = await seed.client({ grantTypes: ['client_credentials'], scopes: ['read'], mayIntrospect: true });
  const insecure = { [oauth.allowInsecureRequests]: true };
  const issuer = new URL(issuerUrl);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  t.equal(as.issuer, issuerUrl);
  const client: oauth.Client = { client_id: registered.clientId };
  const auth = oauth.ClientSecretBasic(registered.secret);
  const cc = await oauth.processClientCredentialsResponse(
    as,
    client,
    await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'read' }, insecure),
  );
  const info = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, cc.access_token, insecure));
  t.match(info, { active: true, iss: issuerUrl, scope: 'read' });
});

import t from 'tap';
import { buildTestApp } from '../helpers/app.js';

t.test('an OpenAPI 3 document generated from the route schemas', async (t) => {
  const { app } = await buildTestApp(t);
  const res = await app.inject({ url: '/openapi.json' });
  t.equal(res.statusCode, 200);
  const doc = res.json();
  t.match(doc.openapi, /^3\./);
  t.equal(doc.info.title, 'Sigil');
  for (const path of ['/token', '/introspect', '/revoke', '/.well-known/jwks.json', '/.well-known/oauth-authorization-server']) {
    t.ok(doc.paths[path], `documents ${path}`);
  }
  const token = doc.paths['/token'].post;
  t.ok(token.requestBody.content['application/x-www-form-urlencoded'], 'form-encoded request body');
  t.ok(token.requestBody.content['application/x-www-form-urlencoded'].schema.properties.grant_type);
  t.ok(token.responses['200'] && token.responses['400'] && token.responses['401']);
  t.ok(doc.paths['/introspect'].post.responses['200']);
  t.same(doc.components.securitySchemes.clientSecretBasic, { type: 'http', scheme: 'basic' });
});

t.test('documentation schemas never change what a request gets', async (t) => {
  const { token } = await buildTestApp(t);
  const dup = await token('grant_type=a&grant_type=b');
  t.equal(dup.statusCode, 400);
  t.match(dup.json().error_description, /grant_type parameter was sent more than once/, 'the precise error, not a schema message');
});

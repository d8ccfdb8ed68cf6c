import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import t from 'tap';
import { TEST_ISSUER } from '../helpers/app.js';
import { isProblem, setup } from './helpers.js';

const TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `k-${randomUUID()}`;
  return { privateKey, kid, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }, privateJwk: { ...(await exportJWK(privateKey)), kid } };
}
const assertion = (key: Awaited<ReturnType<typeof keyPair>>, clientId: string) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: clientId, sub: clientId, aud: TEST_ISSUER, iat: now, exp: now + 60, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .sign(key.privateKey);
};

t.test('clients with private_key_jwt: create with jwks or jwks_uri, no secret, tokens by assertion; no secret to rotate', async (t) => {
  const logs: string[] = [];
  const h = await setup(t, { logs });
  const key = await keyPair();
  const base = { name: 'Billing service', grant_types: ['client_credentials'], scopes: ['billing:read'] };

  const created = await h.call('POST', '/clients', { body: { ...base, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } } });
  t.equal(created.statusCode, 201, created.body);
  const c = created.json();
  t.match(c, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kid: key.kid }] }, scopes: ['billing:read'] });
  t.notOk('client_secret' in c, 'no secret is returned: there is none');
  t.ok(created.headers.etag);

  // The client gets a token with an assertion signed by its key, and only so.
  const ok = await h.token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await assertion(key, c.client_id) });
  t.equal(ok.statusCode, 200, ok.body);
  t.equal((await h.verify(ok.json().access_token)).client_id, c.client_id);
  const stranger = await keyPair();
  const refused = await h.token({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await assertion({ ...stranger, kid: key.kid }, c.client_id) });
  t.equal(refused.statusCode, 401);
  t.equal(refused.json().error, 'invalid_client');

  // The CLI's validation, through the same service, each naming the field.
  const cases: [string, unknown, string][] = [
    ['a private key', { ...base, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.privateJwk] } }, 'jwks'],
    ['neither source', { ...base, token_endpoint_auth_method: 'private_key_jwt' }, 'jwks'],
    ['both sources', { ...base, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] }, jwks_uri: 'https://keys.example/jwks.json' }, 'jwks'],
    ['plain http', { ...base, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example/jwks.json' }, 'jwks_uri'],
    ['keys for a secret client', { ...base, jwks: { keys: [key.publicJwk] } }, 'token_endpoint_auth_method'],
    ['an unknown method', { ...base, token_endpoint_auth_method: 'tls_client_auth' }, 'token_endpoint_auth_method'],
  ];
  for (const [name, body, field] of cases) {
    const p = isProblem(t, await h.call('POST', '/clients', { body }), 400, 'invalid-input');
    t.equal(p.errors?.[0]?.field, field, `${name}: names ${field}`);
    t.notMatch(JSON.stringify(p), new RegExp(String(key.privateJwk.d)), `${name}: no key echoed`);
  }
  t.equal((await h.call('GET', '/clients?name_prefix=billing')).json().items.length, 1, 'nothing half-written');

  const byUri = await h.call('POST', '/clients', { body: { ...base, name: 'By URI', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/jwks.json' } });
  t.equal(byUri.statusCode, 201, byUri.body);
  t.match(byUri.json(), { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/jwks.json' });
  t.notOk('client_secret' in byUri.json());

  // No secret to rotate; the refusal is the service's (the CLI gives the same).
  const rotate = isProblem(t, await h.call('POST', `/clients/${c.client_id}/rotate-secret`), 409, 'conflict');
  t.match(rotate.detail, /private_key_jwt: it has no secret to rotate/);

  // New keys by PATCH, under If-Match, beside other settings in one change.
  const next = await keyPair();
  const etag = created.headers.etag as string;
  const patched = await h.call('PATCH', `/clients/${c.client_id}`, { body: { jwks: { keys: [key.publicJwk, next.publicJwk] }, name: 'Billing' }, headers: { 'if-match': etag } });
  t.equal(patched.statusCode, 200, patched.body);
  t.match(patched.json(), { name: 'Billing', jwks: { keys: [{ kid: key.kid }, { kid: next.kid }] } });
  const stale = await h.call('PATCH', `/clients/${c.client_id}`, { body: { jwks: { keys: [next.publicJwk] } }, headers: { 'if-match': etag } });
  isProblem(t, stale, 412, 'precondition-failed');
  t.equal((await h.call('GET', `/clients/${c.client_id}`)).json().jwks.keys.length, 2, 'the stale change did not apply');
  const badKeys = isProblem(t, await h.call('PATCH', `/clients/${c.client_id}`, { body: { jwks: { keys: [next.privateJwk] }, name: 'X' } }), 400, 'invalid-input');
  t.equal(badKeys.errors[0].field, 'jwks');
  t.equal((await h.call('GET', `/clients/${c.client_id}`)).json().name, 'Billing', 'nothing half-written');

  // A secret client has no keys to replace.
  const secretClient = (await h.call('POST', '/clients', { body: { ...base, name: 'Secretive' } })).json();
  t.type(secretClient.client_secret, 'string');
  t.equal(secretClient.token_endpoint_auth_method, 'client_secret_basic');
  isProblem(t, await h.call('PATCH', `/clients/${secretClient.client_id}`, { body: { jwks: { keys: [next.publicJwk] } } }), 409, 'conflict');

  const audits = logs.map((l) => JSON.parse(l)).filter((l) => l.audit?.event === 'admin_change').map((l) => [l.audit.action, l.audit.target]);
  t.match(audits, [['client.create', `client:${c.client_id}`], ['client.create', String], ['client.update', `client:${c.client_id}`], ['client.create', String]]);
});

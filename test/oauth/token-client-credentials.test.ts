import { createLocalJWKSet, jwtVerify } from 'jose';
import t from 'tap';
import { hashClientSecret } from '../../src/clients/client-secrets.js';
import { basicAuth, buildTestApp, FORM, form, TEST_ISSUER } from '../helpers/app.js';

t.test('client_credentials with Basic: an RFC 9068 token that verifies against the JWKS', async (t) => {
  const { app, seed } = await buildTestApp(t);
  const client = await seed.client({ grantTypes: ['client_credentials'], scopes: ['read', 'write'] });
  const res = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { authorization: basicAuth(client.clientId, client.secret), 'content-type': FORM },
    payload: form({ grant_type: 'client_credentials' }),
  });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(res.headers.pragma, 'no-cache');
  t.match(res.headers['content-type'], /^application\/json/);
  const body = res.json();
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
  t.equal(body.token_type, 'Bearer');
  t.equal(body.expires_in, 600);
  t.equal(body.scope, 'read write', 'no scope asked: every allowed scope');
  t.notOk('refresh_token' in body, 'never a refresh token for client_credentials');

  const jwks = createLocalJWKSet((await app.inject({ url: '/.well-known/jwks.json' })).json());
  const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, { issuer: TEST_ISSUER, typ: 'at+jwt' });
  t.equal(protectedHeader.typ, 'at+jwt');
  t.ok(protectedHeader.kid);
  t.equal(protectedHeader.alg, 'ES256');
  t.match(payload, { iss: TEST_ISSUER, sub: client.clientId, client_id: client.clientId, scope: 'read write', aud: TEST_ISSUER });
  t.match(payload.jti, /^[0-9a-f-]{36}$/);
  t.equal((payload.exp ?? 0) - (payload.iat ?? 0), 600);
  t.notOk('auth_time' in payload, 'no auth_time for a service');
});

t.test('client_secret_post, scopes, resources, per-client lifetime', async (t) => {
  const { seed, token, verify } = await buildTestApp(t);
  const client = await seed.client({
    grantTypes: ['client_credentials'],
    scopes: ['a', 'b', 'c'],
    audience: 'https://api.example.com',
    audiences: ['https://other.example.com'],
    accessTokenTtlSeconds: 60,
  });
  const post = { client_id: client.clientId, client_secret: client.secret, grant_type: 'client_credentials' };

  const narrowed = await token({ ...post, scope: 'c a' });
  t.equal(narrowed.statusCode, 200, narrowed.body);
  t.equal(narrowed.json().scope, 'c a');
  t.equal(narrowed.json().expires_in, 60, 'the client lifetime');
  const claims = await verify(narrowed.json().access_token);
  t.equal(claims.aud, 'https://api.example.com', 'the client default audience');

  const other = await token({ ...post, resource: 'https://other.example.com' });
  t.equal((await verify(other.json().access_token)).aud, 'https://other.example.com');

  const both = await token(`${form(post)}&resource=https%3A%2F%2Fother.example.com&resource=https%3A%2F%2Fapi.example.com`);
  t.same((await verify(both.json().access_token)).aud, ['https://other.example.com', 'https://api.example.com']);

  const cases: [Record<string, string>, string, RegExp][] = [
    [{ scope: 'a d' }, 'invalid_scope', /^scope not allowed for this client: d$/],
    [{ scope: 'a  b' }, 'invalid_scope', /malformed/],
    [{ scope: 'a"b' }, 'invalid_scope', /malformed/],
    [{ resource: 'https://evil.example.com' }, 'invalid_target', /may not ask for tokens for the requested resource/],
    [{ resource: 'not-a-uri' }, 'invalid_target', /absolute URI/],
    [{ resource: 'https://api.example.com#frag' }, 'invalid_target', /fragment/],
  ];
  for (const [extra, error, description] of cases) {
    const res = await token({ ...post, ...extra });
    t.equal(res.statusCode, 400, JSON.stringify(extra));
    t.equal(res.json().error, error);
    t.match(res.json().error_description, description);
    t.equal(res.headers['cache-control'], 'no-store', 'errors are not cached either');
  }
});

t.test('grant and client errors, exactly per RFC 6749 §5.2', async (t) => {
  const { app, seed, token } = await buildTestApp(t);
  const svc = await seed.client({ grantTypes: ['client_credentials'] });
  const app2 = await seed.client({ grantTypes: ['password'] });
  const auth = (c: { clientId: string; secret: string }) => ({ client_id: c.clientId, client_secret: c.secret });

  const expectError = async (res: Awaited<ReturnType<typeof token>>, status: number, error: string, why: string) => {
    t.equal(res.statusCode, status, `${why}: ${res.body}`);
    t.equal(res.json().error, error, why);
    t.type(res.json().error_description, 'string', why);
  };
  await expectError(await token({ ...auth(svc) }), 400, 'invalid_request', 'no grant_type');
  await expectError(await token({ ...auth(svc), grant_type: 'urn:nope' }), 400, 'unsupported_grant_type', 'unknown grant');
  await expectError(await token({ ...auth(svc), grant_type: 'implicit' }), 400, 'unsupported_grant_type', 'implicit');
  await expectError(await token({ ...auth(app2), grant_type: 'client_credentials' }), 400, 'unauthorized_client', 'grant not allowed');
  await expectError(await token({ ...auth(svc), grant_type: 'password', username: 'u', password: 'p' }), 400, 'unauthorized_client', 'password not allowed');
  await expectError(
    await token(`${form({ ...auth(svc), grant_type: 'client_credentials' })}&grant_type=client_credentials`),
    400,
    'invalid_request',
    'repeated parameter',
  );
  await expectError(
    await token(`${form({ ...auth(svc), grant_type: 'client_credentials' })}&scope=a&scope=b`),
    400,
    'invalid_request',
    'repeated scope',
  );
  const twice = await token({ ...auth(svc), grant_type: 'client_credentials' }, { authorization: basicAuth(svc.clientId, svc.secret) });
  await expectError(twice, 400, 'invalid_request', 'Basic and client_secret together');
  t.match(twice.json().error_description, /not both/);

  const json = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ grant_type: 'client_credentials', ...auth(svc) }),
  });
  await expectError(json, 400, 'invalid_request', 'JSON body');
  t.match(json.json().error_description, /x-www-form-urlencoded/);
  const text = await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'text/plain' }, payload: 'x' });
  await expectError(text, 400, 'invalid_request', 'text/plain body');
  const none = await app.inject({ method: 'POST', url: '/token' });
  await expectError(none, 400, 'invalid_request', 'no body at all');
  const huge = await token({ ...auth(svc), grant_type: 'client_credentials', scope: 'x'.repeat(100_000) });
  await expectError(huge, 413, 'invalid_request', 'huge body');

  const get = await app.inject({ method: 'GET', url: '/token' });
  t.equal(get.statusCode, 405);
  t.equal(get.headers.allow, 'POST');
  t.equal(get.json().error, 'invalid_request');
});

t.test('client authentication failures are indistinguishable', async (t) => {
  const { seed, token, db } = await buildTestApp(t);
  const good = await seed.client({ grantTypes: ['client_credentials'] });
  const disabled = await seed.client({ grantTypes: ['client_credentials'] });
  await db.query('update clients set disabled = true where client_id = $1', [disabled.clientId]);
  const cc = { grant_type: 'client_credentials' };

  const attempts = [
    ['wrong secret', { authorization: basicAuth(good.clientId, `${good.secret}x`) }],
    ['unknown client', { authorization: basicAuth('nobody', good.secret) }],
    ['disabled client', { authorization: basicAuth(disabled.clientId, disabled.secret) }],
  ] as const;
  const bodies = new Set<string>();
  for (const [why, headers] of attempts) {
    const res = await token(cc, headers);
    t.equal(res.statusCode, 401, why);
    t.equal(res.headers['www-authenticate'], 'Basic realm="sigil", charset="UTF-8"', why);
    bodies.add(res.body);
  }
  const post = await token({ ...cc, client_id: good.clientId, client_secret: 'nope' });
  t.equal(post.statusCode, 401);
  bodies.add(post.body);
  t.same([...bodies], [JSON.stringify({ error: 'invalid_client', error_description: 'client authentication failed' })]);

  const missing = await token(cc);
  t.equal(missing.statusCode, 401);
  t.equal(missing.json().error, 'invalid_client');
  const onlyId = await token({ ...cc, client_id: good.clientId });
  t.equal(onlyId.statusCode, 401, 'a client_id alone is no authentication');
});

t.test('Basic decoding: RFC 6749 Appendix B form-encoding, edge cases and garbage', async (t) => {
  const { seed, token, db, verify } = await buildTestApp(t);
  const id = 'svc+/:%= ü';
  const secret = 'p@ss:w+rd/%=é 🔑';
  await seed.client({ clientId: id, grantTypes: ['client_credentials'] });
  await db.query('update clients set secret_hash = $2 where client_id = $1', [id, hashClientSecret(secret)]);
  const cc = { grant_type: 'client_credentials' };

  const ok = await token(cc, { authorization: basicAuth(id, secret) });
  t.equal(ok.statusCode, 200, `form-encoded then base64: ${ok.body}`);
  t.equal((await verify(ok.json().access_token)).client_id, id);
  const post = await token({ ...cc, client_id: id, client_secret: secret });
  t.equal(post.statusCode, 200, 'the same client with client_secret_post');
  const lowercase = await token(cc, { authorization: basicAuth(id, secret).replace('Basic', 'basic') });
  t.equal(lowercase.statusCode, 200, 'the scheme is case-insensitive');

  const raw = (s: string) => `Basic ${Buffer.from(s, 'utf8').toString('base64')}`;
  const garbage = [
    'Basic',
    'Basic ',
    'Basic !!!!',
    'Basic YWJj', // "abc": no colon
    raw(':secret'),
    raw('id:'),
    raw('id%zz:secret'),
    `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x41]).toString('base64')}`,
    `Basic ${'A'.repeat(8000)}`,
    'Basic YWJjOmRlZg==extra',
    raw("' or 1=1 --:x"),
  ];
  for (const authorization of garbage) {
    const res = await token(cc, { authorization });
    t.equal(res.statusCode, 401, authorization.slice(0, 40));
    t.equal(res.json().error, 'invalid_client');
  }
  const bearer = await token(cc, { authorization: 'Bearer abc' });
  t.equal(bearer.statusCode, 401);
  t.equal(bearer.json().error, 'invalid_client');
});

t.test('a rotated secret keeps working for its grace period only; no row written per token', async (t) => {
  const clock = { now: new Date('2031-01-01T00:00:00Z') };
  const { seed, token, db, clients } = await buildTestApp(t, { now: () => clock.now });
  const c = await seed.client({ grantTypes: ['client_credentials'] });
  const { clientSecret: fresh } = await clients.rotateSecret(c.clientId, 1, clock.now);
  const cc = { grant_type: 'client_credentials' };
  t.equal((await token(cc, { authorization: basicAuth(c.clientId, c.secret) })).statusCode, 200, 'old secret in grace');
  t.equal((await token(cc, { authorization: basicAuth(c.clientId, fresh) })).statusCode, 200, 'new secret');

  const tableRows = async () => {
    const tables = (await db.query<{ t: string }>("select tablename as t from pg_tables where schemaname = 'public'")).rows;
    const out: Record<string, number> = {};
    for (const { t: table } of tables) {
      out[table] = (await db.query<{ n: number }>(`select count(*)::int as n from "${table.replace(/"/g, '')}"`)).rows[0]?.n ?? 0;
    }
    return out;
  };
  const before = await tableRows();
  for (let i = 0; i < 5; i++) t.equal((await token(cc, { authorization: basicAuth(c.clientId, fresh) })).statusCode, 200);
  t.same(await tableRows(), before, 'issuing tokens wrote no rows');

  clock.now = new Date('2031-01-01T01:00:01Z');
  const expired = await token(cc, { authorization: basicAuth(c.clientId, c.secret) });
  t.equal(expired.statusCode, 401, 'old secret refused after the grace period');
  t.equal((await token(cc, { authorization: basicAuth(c.clientId, fresh) })).statusCode, 200);
});

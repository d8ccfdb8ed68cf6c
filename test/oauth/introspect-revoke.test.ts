import t, { type Test } from 'tap';
import { basicAuth, buildTestApp, FORM, form } from '../helpers/app.js';

async function setup(t: Test) {
  const clock = { now: new Date('2033-01-01T00:00:00Z') };
  const ctx = await buildTestApp(t, { now: () => clock.now });
  const rs = await ctx.seed.client({ grantTypes: ['client_credentials'], mayIntrospect: true });
  const app1 = await ctx.seed.client({ grantTypes: ['password', 'client_credentials'], scopes: ['read', 'write'] });
  const app2 = await ctx.seed.client({ grantTypes: ['client_credentials'], scopes: ['read'] });
  await ctx.seed.role('writer', ['read', 'write']);
  const user = await ctx.seed.user('iris', 'iris-password', { roles: ['writer'] });
  type C = { clientId: string; secret: string };
  const call = (url: string, caller: C, params: Record<string, string>) =>
    ctx.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': FORM, authorization: basicAuth(caller.clientId, caller.secret) },
      payload: form(params),
    });
  const introspect = (caller: C, token: string, hint?: string) =>
    call('/introspect', caller, { token, ...(hint && { token_type_hint: hint }) });
  const revoke = (caller: C, token: string, hint?: string) => call('/revoke', caller, { token, ...(hint && { token_type_hint: hint }) });
  const login = async () =>
    (
      await ctx.token({
        grant_type: 'password',
        username: 'iris',
        password: 'iris-password',
        client_id: app1.clientId,
        client_secret: app1.secret,
      })
    ).json() as { access_token: string; refresh_token: string };
  const serviceToken = async (c: C) =>
    (await ctx.token({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret })).json()
      .access_token as string;
  const advance = (s: number) => (clock.now = new Date(clock.now.getTime() + s * 1000));
  return { ...ctx, rs, app1, app2, user, introspect, revoke, login, serviceToken, advance, clock };
}

const INACTIVE = { active: false };

t.test('introspection of access and refresh tokens: every member of an active answer', async (t) => {
  const { rs, user, login, introspect, app1 } = await setup(t);
  const { access_token, refresh_token } = await login();
  const at = await introspect(rs, access_token);
  t.equal(at.statusCode, 200);
  t.equal(at.headers['cache-control'], 'no-store');
  const body = at.json();
  t.match(body, {
    active: true,
    scope: 'read write',
    client_id: app1.clientId,
    username: 'iris',
    roles: ['writer'],
    token_type: 'Bearer',
    sub: user.id,
    iss: 'https://sigil.test',
    aud: 'https://sigil.test',
  });
  t.type(body.exp, 'number');
  t.type(body.iat, 'number');
  t.type(body.jti, 'string');

  const rt = (await introspect(rs, refresh_token, 'refresh_token')).json();
  t.match(rt, { active: true, client_id: app1.clientId, username: 'iris', token_type: 'refresh_token', sub: user.id, scope: 'read write', roles: ['writer'] });
  const hintWrong = (await introspect(rs, refresh_token, 'access_token')).json();
  t.equal(hintWrong.active, true, 'a wrong hint is only a hint');
  const hintUnknown = (await introspect(rs, access_token, 'id_token')).json();
  t.equal(hintUnknown.active, true, 'an unknown hint is ignored');
});

t.test('inactive: garbage, bad signature, expired, wrong issuer, rotated or revoked tokens', async (t) => {
  const { rs, app1, login, introspect, serviceToken, token, advance, keys } = await setup(t);
  const { access_token, refresh_token } = await login();
  const [h, p, s] = access_token.split('.');
  const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()), scope: 'admin' })).toString('base64url');
  const foreignIssuer = await keys.sign({ iss: 'https://evil.example', sub: 'x', aud: 'x', client_id: app1.clientId, jti: 'j1' }, 60);
  const cases: [string, string][] = [
    ['garbage', 'not-a-token'],
    ['empty-ish', ' '],
    ['SQL-looking', "' or 1=1 --"],
    ['JWT-shaped garbage', 'a.b.c'],
    ['tampered payload', `${h}.${tamperedPayload}.${s}`],
    ['bad signature', `${h}.${p}.${(s ?? '').slice(0, -4)}AAAA`],
    ['wrong issuer', foreignIssuer],
    ['unicode', 'tökén🦊'],
    ['long', 'x'.repeat(5000)],
  ];
  for (const [why, tok] of cases) {
    const res = await introspect(rs, tok);
    t.equal(res.statusCode, 200, why);
    t.same(res.json(), INACTIVE, why);
  }

  const r1 = await token({ grant_type: 'refresh_token', refresh_token, client_id: app1.clientId, client_secret: app1.secret });
  t.equal(r1.statusCode, 200);
  t.same((await introspect(rs, refresh_token)).json(), INACTIVE, 'a rotated refresh token');

  const svc = await serviceToken(app1);
  advance(601);
  t.same((await introspect(rs, svc)).json(), INACTIVE, 'an expired access token');
  t.same((await introspect(rs, access_token)).json(), INACTIVE);
});

t.test('introspection policy: resource servers see all, other clients only their own', async (t) => {
  const { rs, app1, app2, introspect, serviceToken } = await setup(t);
  const t1 = await serviceToken(app1);
  t.equal((await introspect(rs, t1)).json().active, true, 'may_introspect sees any token');
  t.equal((await introspect(app1, t1)).json().active, true, 'a client sees its own token');
  t.same((await introspect(app2, t1)).json(), INACTIVE, "another client's token looks inactive");
});

t.test('introspection needs client authentication', async (t) => {
  const { app, rs, serviceToken, app1 } = await setup(t);
  const tok = await serviceToken(app1);
  const none = await app.inject({ method: 'POST', url: '/introspect', headers: { 'content-type': FORM }, payload: form({ token: tok }) });
  t.equal(none.statusCode, 401);
  t.equal(none.json().error, 'invalid_client');
  const wrong = await app.inject({
    method: 'POST',
    url: '/introspect',
    headers: { 'content-type': FORM, authorization: basicAuth(rs.clientId, 'wrong') },
    payload: form({ token: tok }),
  });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.headers['www-authenticate'], 'Basic realm="sigil", charset="UTF-8"');
  const missing = await app.inject({
    method: 'POST',
    url: '/introspect',
    headers: { 'content-type': FORM, authorization: basicAuth(rs.clientId, rs.secret) },
    payload: '',
  });
  t.equal(missing.statusCode, 400);
  t.equal(missing.json().error, 'invalid_request');
  t.equal((await app.inject({ url: '/introspect' })).statusCode, 405);
});

t.test('revocation: access token by jti, refresh token by family; nothing revealed', async (t) => {
  const { rs, app1, app2, login, introspect, revoke, token, serviceToken, db } = await setup(t);
  const { access_token, refresh_token } = await login();

  const foreign = await revoke(app2, access_token);
  t.equal(foreign.statusCode, 200, "another client's token: 200");
  t.equal(foreign.body, '', 'with an empty body');
  t.equal((await introspect(rs, access_token)).json().active, true, 'and nothing happened');

  const res = await revoke(app1, access_token);
  t.equal(res.statusCode, 200);
  t.equal(res.body, '');
  t.same((await introspect(rs, access_token)).json(), INACTIVE, 'a revoked access token is inactive');
  const stored = await db.query<{ n: number }>('select count(*)::int as n from revoked_access_tokens');
  t.equal(stored.rows[0]?.n, 1);

  t.equal((await revoke(app1, refresh_token, 'access_token')).statusCode, 200, 'a wrong hint still finds it');
  t.same((await introspect(rs, refresh_token)).json(), INACTIVE);
  const refreshed = await token({ grant_type: 'refresh_token', refresh_token, client_id: app1.clientId, client_secret: app1.secret });
  t.equal(refreshed.json().error, 'invalid_grant', 'the family is revoked');

  for (const junk of ['garbage', "' or 1=1 --", 'a.b.c', 'x'.repeat(3000), refresh_token]) {
    const r = await revoke(app1, junk);
    t.equal(r.statusCode, 200, 'unknown, malformed or already revoked: 200');
    t.equal(r.body, '');
  }
  const svc = await serviceToken(app2);
  t.equal((await revoke(app2, svc, 'unsupported_kind')).statusCode, 200, 'an unknown hint is ignored, never unsupported_token_type');
  t.same((await introspect(rs, svc)).json(), INACTIVE);
});

t.test('revocation errors: no authentication 401, no token 400, GET 405', async (t) => {
  const { app, app1 } = await setup(t);
  const none = await app.inject({ method: 'POST', url: '/revoke', headers: { 'content-type': FORM }, payload: form({ token: 'x' }) });
  t.equal(none.statusCode, 401);
  t.equal(none.json().error, 'invalid_client');
  const missing = await app.inject({
    method: 'POST',
    url: '/revoke',
    headers: { 'content-type': FORM, authorization: basicAuth(app1.clientId, app1.secret) },
    payload: form({ token_type_hint: 'access_token' }),
  });
  t.equal(missing.statusCode, 400);
  t.equal(missing.json().error, 'invalid_request');
  const get = await app.inject({ url: '/revoke' });
  t.equal(get.statusCode, 405);
  t.equal(get.headers.allow, 'POST');
});

t.test('a disabled client or user makes its tokens inactive', async (t) => {
  const { rs, app1, login, introspect, serviceToken, db } = await setup(t);
  const svc = await serviceToken(app1);
  const { access_token } = await login();
  await db.query("update users set disabled = true where username = 'iris'");
  t.same((await introspect(rs, access_token)).json(), INACTIVE, 'disabled user');
  t.equal((await introspect(rs, svc)).json().active, true);
  await db.query('update clients set disabled = true where client_id = $1', [app1.clientId]);
  t.same((await introspect(rs, svc)).json(), INACTIVE, 'disabled client');
});

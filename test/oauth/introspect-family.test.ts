import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { createRefreshTokenStore } from '../../src/tokens/refresh-tokens.js';
import { basicAuth, buildTestApp, FORM, form } from '../helpers/app.js';
import { recordSecret } from '../helpers/secret-scan.js';

// RFC 7009 §2.1: when a login ends (its refresh token revoked, reuse detected, every session of
// the user ended), the access tokens issued from it stop introspecting as active too.

async function setup(t: Test) {
  const ctx = await buildTestApp(t);
  const rs = await ctx.seed.client({ grantTypes: ['client_credentials'], mayIntrospect: true });
  const client = await ctx.seed.client({ grantTypes: ['password', 'client_credentials'], scopes: ['read'] });
  const user = await ctx.seed.user('nora', 'nora-password', { scopes: ['read'] });
  const auth = { authorization: basicAuth(client.clientId, client.secret) };
  const post = (url: string, params: Record<string, string>, as = rs) =>
    ctx.app.inject({ method: 'POST', url, headers: { 'content-type': FORM, authorization: basicAuth(as.clientId, as.secret) }, payload: form(params) });
  const active = async (token: string) => (await post('/introspect', { token })).json().active as boolean;
  const login = async () =>
    (await ctx.token({ grant_type: 'password', username: 'nora', password: 'nora-password' }, auth)).json() as {
      access_token: string;
      refresh_token: string;
    };
  const refresh = (refreshToken: string) => ctx.token({ grant_type: 'refresh_token', refresh_token: refreshToken }, auth);
  const sidOf = async (token: string) => (await ctx.verify(token)).sid;
  return { ...ctx, rs, client, user, auth, post, active, login, refresh, sidOf };
}

t.test("a login's access tokens name its refresh family (sid), the same across refreshes; service tokens none", async (t) => {
  const { login, refresh, sidOf, token, auth } = await setup(t);
  const first = await login();
  const sid = await sidOf(first.access_token);
  t.match(sid, /^[0-9a-f-]{36}$/, 'a UUID');
  const next = (await refresh(first.refresh_token)).json();
  t.equal(await sidOf(next.access_token), sid, 'a refresh keeps the login');
  t.not(await sidOf((await login()).access_token), sid, 'another login, another sid');
  const service = (await token({ grant_type: 'client_credentials' }, auth)).json();
  t.equal(await sidOf(service.access_token), undefined, 'client_credentials tokens belong to no login');
});

t.test('revoking a refresh token makes the access tokens of its login inactive, and no other', async (t) => {
  const { login, refresh, active, post, client, token, auth } = await setup(t);
  const one = await login();
  const rotated = (await refresh(one.refresh_token)).json();
  const other = await login();
  const service = (await token({ grant_type: 'client_credentials' }, auth)).json().access_token as string;
  t.ok((await active(one.access_token)) && (await active(rotated.access_token)), 'active before');

  t.equal((await post('/revoke', { token: rotated.refresh_token }, client)).statusCode, 200);
  t.equal(await active(one.access_token), false, "the login's first access token is inactive");
  t.equal(await active(rotated.access_token), false, 'and the one its refresh gave');
  t.equal(await active(other.access_token), true, 'another login of the same user is unaffected');
  t.equal(await active(service), true, 'client_credentials tokens are unaffected');
  const res = await post('/introspect', { token: one.access_token });
  t.same(res.json(), { active: false }, 'nothing else in the answer');
});

t.test('reuse detection ends the login: its access tokens go inactive', async (t) => {
  const { login, refresh, active } = await setup(t);
  const one = await login();
  const other = await login();
  const rotated = (await refresh(one.refresh_token)).json();
  t.equal(await active(rotated.access_token), true);
  t.equal((await refresh(one.refresh_token)).json().error, 'invalid_grant', 'the rotated token presented again');
  t.equal(await active(rotated.access_token), false, "the thief's or the client's, neither is active");
  t.equal(await active(one.access_token), false);
  t.equal(await active(other.access_token), true, 'another login is unaffected');
});

t.test('ending every session of a user (admin) or of a client ends their access tokens', async (t) => {
  const { login, active, db, config, user, client } = await setup(t);
  const a = await login();
  const b = await login();
  const store = createRefreshTokenStore(db, config.refreshTokens);
  t.equal(await store.revokeAll({ userId: user.id }, 'admin'), 2);
  t.equal(await active(a.access_token), false);
  t.equal(await active(b.access_token), false);

  const here = await login();
  const elsewhere = await login();
  t.equal(await active(elsewhere.access_token), true);
  t.equal(await store.revokeAll({ clientId: client.clientId }, 'client'), 2, 'a leaked client secret: every login of the client');
  t.equal(await active(here.access_token), false);
  t.equal(await active(elsewhere.access_token), false);
});

t.test('a password change ends the access tokens of the other sessions and keeps the named one', async (t) => {
  const ctx = await setup(t);
  const here = await ctx.login();
  const elsewhere = await ctx.login();
  recordSecret('nora-new-password');
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/account/password',
    headers: { authorization: `Bearer ${here.access_token}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ current_password: 'nora-password', new_password: 'nora-new-password', refresh_token: here.refresh_token }),
  });
  t.equal(res.statusCode, 204);
  t.equal(await ctx.active(elsewhere.access_token), false, 'the other session');
  t.equal(await ctx.active(here.access_token), true, 'the calling session goes on');
});

t.test('a token without sid (minted before logins were named) introspects as before; a sid naming no live login does not', async (t) => {
  const { keys, active, post, client, user, rs } = await setup(t);
  const now = Math.floor(Date.now() / 1000);
  const userToken = (extra: Record<string, unknown>) =>
    keys.sign({ iss: 'https://sigil.test', sub: user.id, aud: 'https://sigil.test', client_id: client.clientId, jti: randomUUID(), scope: 'read', auth_time: now, ...extra }, 600);
  const legacy = await userToken({});
  recordSecret(legacy);
  const res = (await post('/introspect', { token: legacy }, rs)).json();
  t.match(res, { active: true, username: 'nora', client_id: client.clientId, sub: user.id, scope: 'read' }, 'as before');
  for (const sid of [randomUUID(), 'not-a-uuid', 42, '']) {
    const token = await userToken({ sid });
    recordSecret(token);
    t.equal(await active(token), false, `sid ${JSON.stringify(sid)}: no live family, inactive`);
  }
});

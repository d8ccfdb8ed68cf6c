import { Writable } from 'node:stream';
import t from 'tap';
import { loggerOptions } from '../../src/logger.js';
import { basicAuth, buildTestApp, FORM, form } from '../helpers/app.js';
import { recordSecret } from '../helpers/secret-scan.js';

const OLD = 'old-account-passphrase';
const NEW = 'new-account-passphrase';

async function setup(t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const built = await buildTestApp(t, { env, logger: { ...(loggerOptions('info') as object), stream } });
  const client = await built.seed.client({ grantTypes: ['password', 'client_credentials'], scopes: ['read'] });
  const auth = basicAuth(client.clientId, client.secret);
  const user = await built.seed.user('alice', OLD);
  recordSecret(NEW);
  const login = async (password = OLD) => built.token({ grant_type: 'password', username: 'alice', password }, { authorization: auth });
  const change = (accessToken: string | undefined, body: Record<string, string> | string, type = 'application/json') =>
    built.app.inject({
      method: 'POST',
      url: '/account/password',
      headers: { ...(accessToken && { authorization: `Bearer ${accessToken}` }), 'content-type': type },
      payload: typeof body === 'string' ? body : type === FORM ? form(body) : JSON.stringify(body),
    });
  return { ...built, client, auth, user, login, change, lines };
}

t.test('a user changes her password with her own token; other sessions end, the named one stays', async (t) => {
  const { login, change, token, auth, lines, user } = await setup(t);
  const here = (await login()).json();
  const elsewhere = (await login()).json();

  const res = await change(here.access_token, { current_password: OLD, new_password: NEW, refresh_token: here.refresh_token });
  t.equal(res.statusCode, 204);
  t.equal(res.body, '');

  t.equal((await login(OLD)).statusCode, 400, 'the old password no longer logs in');
  t.equal((await login(NEW)).statusCode, 200, 'the new one does');
  const refresh = (rt: string) => token({ grant_type: 'refresh_token', refresh_token: rt }, { authorization: auth });
  t.equal((await refresh(elsewhere.refresh_token)).statusCode, 400, 'the other session ended');
  t.equal((await refresh(here.refresh_token)).statusCode, 200, 'the calling session goes on');

  const audit = lines.map((l) => JSON.parse(l)).find((l) => l.audit?.event === 'password_changed');
  t.match(audit?.audit, { user_id: user.id, sessions_ended: 1 }, 'audited');
  const log = lines.join('');
  t.notOk(log.includes(OLD) || log.includes(NEW), 'no password in the logs');
});

t.test('without a named session every session ends; a form body works too', async (t) => {
  const { login, change, token, auth } = await setup(t);
  const one = (await login()).json();
  const res = await change(one.access_token, { current_password: OLD, new_password: NEW }, FORM);
  t.equal(res.statusCode, 204);
  t.equal((await token({ grant_type: 'refresh_token', refresh_token: one.refresh_token }, { authorization: auth })).statusCode, 400);
});

t.test('the door: RFC 6750 challenges', async (t) => {
  const { change, token, auth, app, login } = await setup(t);
  const body = { current_password: OLD, new_password: NEW };

  const none = await change(undefined, body);
  t.equal(none.statusCode, 401);
  t.equal(none.headers['www-authenticate'], 'Bearer realm="sigil"');

  const basic = await app.inject({ method: 'POST', url: '/account/password', headers: { authorization: auth } });
  t.equal(basic.statusCode, 401);
  t.match(basic.headers['www-authenticate'], /^Bearer realm="sigil", error="invalid_token"/);

  const garbage = await change('not-a-token', body);
  t.equal(garbage.statusCode, 401);
  t.match(garbage.headers['www-authenticate'], /error="invalid_token"/);

  const service = (await token({ grant_type: 'client_credentials' }, { authorization: auth })).json();
  const notUser = await change(service.access_token, body);
  t.equal(notUser.statusCode, 401, "a client's own token names no user");
  t.match(notUser.headers['www-authenticate'], /error="invalid_token", error_description="the access token does not belong to a user"/);

  const revokedLogin = (await login()).json();
  await app.inject({
    method: 'POST',
    url: '/revoke',
    headers: { authorization: auth, 'content-type': FORM },
    payload: form({ token: revokedLogin.access_token }),
  });
  const revoked = await change(revokedLogin.access_token, body);
  t.equal(revoked.statusCode, 401, 'a revoked token is refused');
  t.equal((await login(OLD)).statusCode, 200, 'and nothing changed');
});

t.test('bad bodies get problem+json naming the field, and change nothing', async (t) => {
  const { change, login } = await setup(t);
  const { access_token } = (await login()).json();

  const missing = await change(access_token, { current_password: OLD });
  t.equal(missing.statusCode, 400);
  t.equal(missing.headers['content-type'], 'application/problem+json; charset=utf-8');
  t.match(missing.json(), { status: 400, type: 'urn:sigil:problem:invalid-request', errors: [{ field: 'new_password', detail: 'is missing' }] });

  const tooLong = await change(access_token, { current_password: OLD, new_password: 'x'.repeat(2000) });
  t.equal(tooLong.statusCode, 400);
  t.match(tooLong.json(), { errors: [{ field: 'new_password' }] });

  const text = await change(access_token, 'current_password=x', 'text/plain');
  t.equal(text.statusCode, 415);

  const wrong = await change(access_token, { current_password: 'not-it', new_password: NEW });
  t.equal(wrong.statusCode, 403);
  t.match(wrong.json(), { type: 'urn:sigil:problem:wrong-password', status: 403 });
  t.equal((await login(OLD)).statusCode, 200, 'the password is unchanged');
});

t.test('wrong current passwords count as failed logins and lock out like the password grant', async (t) => {
  const { change, login } = await setup(t, { SIGIL_LOGIN_MAX_FAILURES_PER_ADDRESS: '2' });
  const { access_token } = (await login()).json();
  const wrong = { current_password: 'guess', new_password: NEW };
  t.equal((await change(access_token, wrong)).statusCode, 403);
  t.equal((await change(access_token, wrong)).statusCode, 403);
  const locked = await change(access_token, { current_password: OLD, new_password: NEW });
  t.equal(locked.statusCode, 429, 'locked out, even with the right password');
  t.ok(Number(locked.headers['retry-after']) > 0, 'with Retry-After');
  const grant = await login(OLD);
  t.equal(grant.statusCode, 429, 'the password grant shares the lock-out');
});

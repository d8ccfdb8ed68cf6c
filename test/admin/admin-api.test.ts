import { SignJWT, generateKeyPair } from 'jose';
import t from 'tap';
import { basicAuth, TEST_ISSUER } from '../helpers/app.js';
import { testClock } from '../helpers/keys.js';
import { ADMIN_AUD, isProblem, setup } from './helpers.js';

t.test('the door', async (t) => {
  const clock = testClock(new Date());
  const h = await setup(t, { now: clock.now });
  const none = await h.call('GET', '/users', { token: '' });
  isProblem(t, none, 401, 'unauthorized');
  t.equal(none.headers['www-authenticate'], 'Bearer realm="sigil-admin"');
  const malformed = await h.call('GET', '/users', { token: '', headers: { authorization: 'Basic abc' } });
  t.equal(malformed.statusCode, 401);
  t.equal(malformed.headers['www-authenticate'], 'Bearer realm="sigil-admin"');

  const garbage = await h.call('GET', '/users', { token: 'a.b.c' });
  isProblem(t, garbage, 401, 'invalid-token');
  t.match(garbage.headers['www-authenticate'], /^Bearer realm="sigil-admin", error="invalid_token"/);

  const wrongAud = await h.tokenFor('sigil:admin:read sigil:admin:write', TEST_ISSUER);
  const aud = await h.call('GET', '/users', { token: wrongAud.token });
  t.equal(aud.statusCode, 401, 'the default audience does not open the admin API, whatever the scopes');
  t.match(aud.headers['www-authenticate'], /error="invalid_token"/);

  // Another issuer's key, same claims.
  const { privateKey } = await generateKeyPair('ES256');
  const now = Math.floor(clock.now().getTime() / 1000);
  const forged = await new SignJWT({ client_id: h.admin.client.clientId, scope: 'sigil:admin:write', jti: 'x' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'nope' })
    .setIssuer(TEST_ISSUER).setAudience(ADMIN_AUD).setSubject(h.admin.client.clientId).setIssuedAt(now).setExpirationTime(now + 60)
    .sign(privateKey);
  t.equal((await h.call('GET', '/users', { token: forged })).statusCode, 401, 'another key');

  const readOnly = await h.tokenFor('sigil:admin:read');
  t.equal((await h.call('GET', '/users', { token: readOnly.token })).statusCode, 200, 'read scope reads');
  const denied = await h.call('POST', '/roles', { token: readOnly.token, body: { name: 'x', scopes: [] } });
  isProblem(t, denied, 403, 'insufficient-scope');
  t.equal(denied.headers['www-authenticate'], 'Bearer realm="sigil-admin", error="insufficient_scope", error_description="this needs the sigil:admin:write scope", scope="sigil:admin:write"');
  const noAdmin = await h.tokenFor('photos:read');
  t.equal((await h.call('GET', '/users', { token: noAdmin.token })).statusCode, 403);

  // Revoked jti.
  const victim = await h.tokenFor('sigil:admin:write');
  await h.app.inject({
    method: 'POST', url: '/revoke', headers: { authorization: basicAuth(victim.client.clientId, victim.client.secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `token=${victim.token}`,
  });
  const revoked = await h.call('GET', '/users', { token: victim.token });
  t.equal(revoked.statusCode, 401, 'revoked');
  t.match(revoked.json().detail, /revoked/);

  // Disabled client.
  const other = await h.tokenFor('sigil:admin:write');
  t.equal((await h.call('PATCH', `/clients/${other.client.clientId}`, { body: { disabled: true } })).statusCode, 200);
  t.equal((await h.call('GET', '/users', { token: other.token })).statusCode, 401, 'disabled client');

  // Expired (the injected clock).
  clock.advance(3600);
  const expired = await h.call('GET', '/users');
  t.equal(expired.statusCode, 401, 'expired');
  t.match(expired.headers['www-authenticate'], /error="invalid_token"/);
});

t.test('users and roles: create, get, list, patch, password, delete, ETags, audit', async (t) => {
  const logs: string[] = [];
  const h = await setup(t, { logs });
  const role = await h.call('POST', '/roles', { body: { name: 'photo-editor', scopes: ['photos:read', 'photos:upload'] } });
  t.equal(role.statusCode, 201, role.body);
  t.match(role.json(), { name: 'photo-editor', scopes: ['photos:read', 'photos:upload'] });
  t.ok(role.headers.etag);
  t.equal((await h.call('POST', '/roles', { body: { name: 'Photo-Editor' } })).statusCode, 409, 'duplicate regardless of case');

  const alice = await h.call('POST', '/users', { body: { username: 'alice', password: 'correct horse 1', roles: ['photo-editor'], scopes: [] } });
  t.equal(alice.statusCode, 201, alice.body);
  const a = alice.json();
  t.match(a, { username: 'alice', roles: ['photo-editor'], scopes: [], disabled: false });
  t.notOk('password_hash' in a || 'passwordHash' in a, 'no hash');
  const etag = alice.headers.etag as string;
  t.match(etag, /^"\d+"$/);
  isProblem(t, await h.call('POST', '/users', { body: { username: 'ALICE' } }), 409, 'conflict');
  const noPw = await h.call('POST', '/users', { body: { username: 'bob' } });
  t.equal(noPw.statusCode, 201);
  t.equal(noPw.json().has_password, false);

  const got = await h.call('GET', `/users/${a.id}`);
  t.equal(got.statusCode, 200);
  t.equal(got.headers.etag, etag);
  isProblem(t, await h.call('GET', '/users/00000000-0000-4000-8000-000000000000'), 404, 'not-found');
  isProblem(t, await h.call('GET', '/users/not-a-uuid'), 404, 'not-found');

  const bad = isProblem(t, await h.call('POST', '/users', { body: { username: 'carol', roles: ['nope'] } }), 400, 'invalid-input');
  t.equal(bad.errors[0].field, 'roles');
  const badType = isProblem(t, await h.call('POST', '/users', { body: { username: 5 } }), 400, 'invalid-input');
  t.equal(badType.errors[0].field, 'username');
  const badScope = isProblem(t, await h.call('POST', '/users', { body: { username: 'dan', scopes: ['a"b'] } }), 400, 'invalid-input');
  t.equal(badScope.errors[0].field, 'scopes');
  isProblem(t, await h.call('POST', '/users', { body: '{"username":' }), 400, 'invalid-input');
  isProblem(
    t,
    await h.app.inject({ method: 'POST', url: '/admin/v1/users', headers: { authorization: `Bearer ${h.admin.token}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'username=x' }),
    415,
    'unsupported-media-type',
  );
  t.equal((await h.call('GET', '/users?username_prefix=dan')).json().items.length, 0, 'nothing half-written');

  const patched = await h.call('PATCH', `/users/${a.id}`, { body: { disabled: true, scopes: ['photos:delete'] }, headers: { 'if-match': etag } });
  t.equal(patched.statusCode, 200, patched.body);
  t.match(patched.json(), { disabled: true, scopes: ['photos:delete'], roles: ['photo-editor'] });
  t.not(patched.headers.etag, etag);
  const stale = await h.call('PATCH', `/users/${a.id}`, { body: { disabled: false }, headers: { 'if-match': etag } });
  isProblem(t, stale, 412, 'precondition-failed');
  t.equal((await h.call('GET', `/users/${a.id}`)).json().disabled, true, 'the stale change did not apply');
  const merge = await h.call('PATCH', `/users/${a.id}`, { body: { roles: [] }, headers: { 'content-type': 'application/merge-patch+json' } });
  t.equal(merge.statusCode, 200, merge.body);
  t.same(merge.json().roles, []);
  isProblem(t, await h.call('PATCH', `/users/${a.id}`, { body: { username: 'eve' } }), 400, 'invalid-input');

  t.equal((await h.call('PUT', `/users/${noPw.json().id}/password`, { body: { password: 'a new one 2' } })).statusCode, 204);
  t.equal((await h.call('GET', `/users/${noPw.json().id}`)).json().has_password, true);
  isProblem(t, await h.call('PUT', `/users/${a.id}/password`, { body: { password: '' } }), 400, 'invalid-input');

  isProblem(t, await h.call('DELETE', `/users/${a.id}`, { headers: { 'if-match': etag } }), 412, 'precondition-failed');
  t.equal((await h.call('DELETE', `/users/${a.id}`)).statusCode, 204);
  isProblem(t, await h.call('DELETE', `/users/${a.id}`), 404, 'not-found');

  const rp = await h.call('PATCH', '/roles/photo-editor', { body: { scopes: ['photos:read'] }, headers: { 'if-match': role.headers.etag as string } });
  t.equal(rp.statusCode, 200, rp.body);
  t.same(rp.json().scopes, ['photos:read']);
  isProblem(t, await h.call('PATCH', '/roles/photo-editor', { body: { scopes: [] }, headers: { 'if-match': role.headers.etag as string } }), 412, 'precondition-failed');
  t.equal((await h.call('GET', '/roles/PHOTO-EDITOR')).statusCode, 200);
  t.equal((await h.call('GET', '/roles')).json().items.length, 1);
  t.equal((await h.call('DELETE', '/roles/photo-editor')).statusCode, 204);
  isProblem(t, await h.call('GET', '/roles/photo-editor'), 404, 'not-found');

  const audits = logs.map((l) => JSON.parse(l)).filter((l) => l.audit?.event === 'admin_change').map((l) => l.audit);
  t.ok(audits.some((e) => e.action === 'user.create' && e.target === `user:${a.id}` && e.admin_client_id === h.admin.client.clientId));
  t.ok(audits.some((e) => e.action === 'user.set_password'));
  t.ok(audits.some((e) => e.action === 'role.delete' && e.target === 'role:photo-editor'));
  t.notMatch(logs.join(''), /correct horse|a new one 2/, 'no password in the logs');
});

t.test('pagination over more rows than a page, with filters', async (t) => {
  const h = await setup(t);
  await h.call('POST', '/roles', { body: { name: 'staff', scopes: ['a'] } });
  for (let i = 0; i < 7; i++) {
    t.equal((await h.call('POST', '/users', { body: { username: `user${i}`, roles: i % 2 ? ['staff'] : [] } })).statusCode, 201);
  }
  const seen: string[] = [];
  let url: string | null = '/admin/v1/users?limit=3';
  let pages = 0;
  while (url) {
    const res: { statusCode: number; body: string; json(): unknown } = await h.app.inject({ url, headers: { authorization: `Bearer ${h.admin.token}` } });
    t.equal(res.statusCode, 200, res.body);
    const body = res.json() as { items: { username: string }[]; next: string | null };
    seen.push(...body.items.map((u: { username: string }) => u.username));
    url = body.next;
    pages++;
  }
  t.equal(pages, 3);
  t.same(seen, ['user0', 'user1', 'user2', 'user3', 'user4', 'user5', 'user6'], 'each once, in order');
  t.same((await h.call('GET', '/users?role=staff')).json().items.map((u: { username: string }) => u.username), ['user1', 'user3', 'user5']);
  t.equal((await h.call('GET', '/users?username_prefix=USER1')).json().items.length, 1);
  isProblem(t, await h.call('GET', '/users?limit=0'), 400, 'invalid-input');
  const cursor = isProblem(t, await h.call('GET', '/users?after=garbage'), 400, 'invalid-input');
  t.equal(cursor.errors[0].field, 'after');
});

t.test('clients: create like the CLI, list, get, patch, rotate, delete; never a hash', async (t) => {
  const h = await setup(t);
  const created = await h.call('POST', '/clients', { body: { name: 'Photo app', grant_types: ['password'], scopes: ['photos:read'] } });
  t.equal(created.statusCode, 201, created.body);
  const c = created.json();
  t.match(c, { name: 'Photo app', grant_types: ['password'], scopes: ['photos:read'], disabled: false });
  t.match(c.client_secret, /^\S{43}$/);
  t.notMatch(created.body, /hash/i);
  const dup = await h.call('POST', '/clients', { body: { client_id: c.client_id, name: 'x', grant_types: ['password'] } });
  isProblem(t, dup, 409, 'conflict');
  const badGrant = isProblem(t, await h.call('POST', '/clients', { body: { name: 'x', grant_types: ['implicit'] } }), 400, 'invalid-input');
  t.match(badGrant.errors[0].field, /grant_types/);
  t.notMatch(JSON.stringify(badGrant), /implicit/, 'input not echoed');

  const got = await h.call('GET', `/clients/${c.client_id}`);
  t.equal(got.statusCode, 200);
  t.notOk('client_secret' in got.json());
  const etag = got.headers.etag as string;
  const patched = await h.call('PATCH', `/clients/${c.client_id}`, { body: { disabled: true, name: 'Renamed' }, headers: { 'if-match': etag } });
  t.equal(patched.statusCode, 200, patched.body);
  t.match(patched.json(), { disabled: true, name: 'Renamed' });
  isProblem(t, await h.call('PATCH', `/clients/${c.client_id}`, { body: { disabled: false }, headers: { 'if-match': etag } }), 412, 'precondition-failed');
  const rotated = await h.call('POST', `/clients/${c.client_id}/rotate-secret`);
  t.equal(rotated.statusCode, 200, rotated.body);
  t.not(rotated.json().client_secret, c.client_secret);
  t.ok(rotated.json().previous_secret_expires_at);

  const names = (await h.call('GET', '/clients?name_prefix=ren')).json().items.map((x: { name: string }) => x.name);
  t.same(names, ['Renamed']);
  const page = (await h.call('GET', '/clients?limit=1')).json();
  t.equal(page.items.length, 1);
  t.type(page.next, 'string');
  isProblem(t, await h.call('GET', '/clients/nope'), 404, 'not-found');
  t.equal((await h.call('DELETE', `/clients/${c.client_id}`)).statusCode, 204);
  isProblem(t, await h.call('DELETE', `/clients/${c.client_id}`), 404, 'not-found');
  isProblem(t, await h.call('GET', '/nothing-here'), 404, 'not-found');
});

t.test('a client change over the admin API takes effect on the next request to this instance', async (t) => {
  // The client cache's clock stands still and nothing checks its version: only the admin API
  // clearing it can make the change seen.
  const h = await setup(t, { clientCacheClock: () => 0 });
  const svc = await h.seed.client({ grantTypes: ['client_credentials'], scopes: ['photos:read'] });
  const cc = (secret: string) => h.token({ grant_type: 'client_credentials' }, { authorization: basicAuth(svc.clientId, secret) });
  t.equal((await cc(svc.secret)).statusCode, 200, 'the client is now cached');

  t.equal((await h.call('PATCH', `/clients/${svc.clientId}`, { body: { scopes: [] } })).statusCode, 200);
  const narrowed = await cc(svc.secret);
  t.equal(narrowed.statusCode, 200, narrowed.body);
  t.equal(narrowed.json().scope, undefined, 'the narrowed scopes apply at once');
  t.equal((await h.call('PATCH', `/clients/${svc.clientId}`, { body: { disabled: true } })).statusCode, 200);
  t.equal((await cc(svc.secret)).statusCode, 401, 'disabled at once');
  t.equal((await h.call('PATCH', `/clients/${svc.clientId}`, { body: { disabled: false } })).statusCode, 200);
  t.equal((await cc(svc.secret)).statusCode, 200, 'enabled at once');
  t.equal((await h.call('DELETE', `/clients/${svc.clientId}`)).statusCode, 204);
  t.equal((await cc(svc.secret)).statusCode, 401, 'deleted at once');
});

t.test('the admin rate limit', async (t) => {
  const h = await setup(t, { env: { SIGIL_ADMIN_RATE_LIMIT_PER_MINUTE: '3' } });
  for (let i = 0; i < 3; i++) t.equal((await h.call('GET', '/roles')).statusCode, 200);
  const limited = await h.call('GET', '/roles');
  isProblem(t, limited, 429, 'rate-limited');
  t.ok(limited.headers['retry-after']);
});

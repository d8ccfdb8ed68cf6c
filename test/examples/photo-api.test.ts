import t from 'tap';
import { createPhotoApi } from '../../examples/photo-api/server.js';
import { basicAuth, buildTestApp, FORM } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';
import { recordSecret } from '../helpers/secret-scan.js';

const PHOTOS = 'https://photos.example';

// The seed's story over real HTTP: an app's backend signs Alice up through the admin API, she logs
// in with the password grant, and the photo API decides from her token alone what she may do.
t.test('photo-api: upload needs photos:upload, and losing the role is felt at the next refresh', async (t) => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { app, seed } = await buildTestApp(t, { env: { SIGIL_ISSUER: issuer } });
  await app.listen({ port, host: '127.0.0.1' });

  const tokenRequest = async (auth: string, params: Record<string, string>) => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': FORM },
      body: new URLSearchParams(params),
    });
    const body = (await res.json()) as Record<string, string>;
    recordSecret(body.access_token, body.refresh_token);
    return { status: res.status, body };
  };

  // The operator's first admin client comes from the CLI's service; the app's client too.
  const ops = await seed.client({
    name: 'ops',
    grantTypes: ['client_credentials'],
    scopes: ['sigil:admin:read', 'sigil:admin:write'],
    audience: `${issuer}/admin`,
  });
  const photoApp = await seed.client({
    name: 'Photo app',
    grantTypes: ['password'],
    scopes: ['photos:read', 'photos:upload'],
    audience: PHOTOS,
  });
  const appAuth = basicAuth(photoApp.clientId, photoApp.secret);
  const adminToken = (await tokenRequest(basicAuth(ops.clientId, ops.secret), { grant_type: 'client_credentials' })).body
    .access_token;
  const admin = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${issuer}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, etag: res.headers.get('etag'), body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
  };

  const role = await admin('POST', '/roles', { name: 'photo-editor', scopes: ['photos:read', 'photos:upload'] });
  t.equal(role.status, 201, 'role created');
  t.same(role.body.scopes, ['photos:read', 'photos:upload']);
  recordSecret('alice-photo-passphrase', 'bob-photo-passphrase');
  const alice = await admin('POST', '/users', { username: 'alice', password: 'alice-photo-passphrase', roles: ['photo-editor'], scopes: [] });
  t.equal(alice.status, 201, 'alice signed up');
  t.ok(alice.etag, 'the new user has an ETag');
  const bob = await admin('POST', '/users', { username: 'bob', password: 'bob-photo-passphrase', scopes: ['photos:read'] });
  t.equal(bob.status, 201, 'bob signed up');

  const api = createPhotoApi({ issuer, audience: PHOTOS });
  t.teardown(() => api.close());
  const apiUrl = await api.listen({ port: 0, host: '127.0.0.1' });
  const upload = (accessToken?: string) =>
    fetch(`${apiUrl}/photos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(accessToken && { authorization: `Bearer ${accessToken}` }) },
      body: JSON.stringify({ title: 'sunset' }),
    });

  const login = await tokenRequest(appAuth, { grant_type: 'password', username: 'alice', password: 'alice-photo-passphrase' });
  t.equal(login.status, 200);
  t.equal(login.body.scope, 'photos:read photos:upload', 'alice gets her permissions, not just the app’s');
  const uploaded = await upload(login.body.access_token);
  t.equal(uploaded.status, 201, 'alice may upload');

  const bobLogin = await tokenRequest(appAuth, { grant_type: 'password', username: 'bob', password: 'bob-photo-passphrase' });
  t.equal(bobLogin.body.scope, 'photos:read');
  const refused = await upload(bobLogin.body.access_token);
  t.equal(refused.status, 403, 'bob may not upload');
  t.equal(refused.headers.get('www-authenticate'), 'Bearer realm="photos", error="insufficient_scope", scope="photos:upload"');

  t.equal((await upload()).status, 401, 'no token');
  const wrongAudience = await upload(adminToken);
  t.equal(wrongAudience.status, 401, 'a token for another audience does not open the photo API');
  t.match(wrongAudience.headers.get('www-authenticate'), /error="invalid_token"/);

  const taken = await admin('PATCH', `/users/${alice.body.id}`, { roles: [] }, { 'if-match': alice.etag ?? '' });
  t.equal(taken.status, 200, 'role taken away');
  t.same(taken.body.roles, []);
  const refreshed = await tokenRequest(appAuth, { grant_type: 'refresh_token', refresh_token: login.body.refresh_token ?? '' });
  t.equal(refreshed.status, 200, 'the session goes on');
  t.notOk(refreshed.body.scope?.includes('photos:upload'), 'without the permission');
  t.equal((await upload(refreshed.body.access_token)).status, 403, 'and the upload is refused');
});

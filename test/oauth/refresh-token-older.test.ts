import { createHash, randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { parseRefreshToken } from '../../src/tokens/refresh-token-format.js';
import { createRefreshTokenStore } from '../../src/tokens/refresh-tokens.js';
import { basicAuth, buildTestApp, FORM, form } from '../helpers/app.js';

// Refresh tokens issued before migration 013 were 32 random bytes, found by their hash, and spent
// by marking their own row. Logins that hold one must go on after the upgrade: such a token
// rotates (once) into a named token, and reuse, grace, introspection, revocation and the session
// listing treat it as before.

async function setup(t: Test, env: Record<string, string> = {}) {
  const ctx = await buildTestApp(t, { env });
  const rs = await ctx.seed.client({ grantTypes: ['client_credentials'], mayIntrospect: true });
  const client = await ctx.seed.client({ grantTypes: ['password'], scopes: ['read'] });
  const user = await ctx.seed.user('olga', 'olga-password', { scopes: ['read'] });
  const auth = { authorization: basicAuth(client.clientId, client.secret) };
  const refresh = (refreshToken: string) => ctx.token({ grant_type: 'refresh_token', refresh_token: refreshToken }, auth);
  const post = (url: string, params: Record<string, string>, as = rs) =>
    ctx.app.inject({ method: 'POST', url, headers: { 'content-type': FORM, authorization: basicAuth(as.clientId, as.secret) }, payload: form(params) });
  /** A login whose token is then stored as migration 013 found it: a token of 32 random bytes. */
  const olderLogin = async () => {
    const res = await ctx.token({ grant_type: 'password', username: 'olga', password: 'olga-password' }, auth);
    const familyId = parseRefreshToken(res.json().refresh_token)?.familyId as string;
    const older = randomBytes(32).toString('base64url');
    const r = await ctx.db.query('update refresh_tokens set generation = null, token_hash = $2 where family_id = $1 returning 1', [
      familyId,
      createHash('sha256').update(older).digest(),
    ]);
    t.equal(r.rows.length, 1);
    return { older, familyId };
  };
  const store = () => createRefreshTokenStore(ctx.db, ctx.config.refreshTokens);
  const login = async () => (await ctx.token({ grant_type: 'password', username: 'olga', password: 'olga-password' }, auth)).json().refresh_token as string;
  return { ...ctx, client, user, refresh, post, olderLogin, login, store };
}

t.test('an older token rotates once into a named token of the same family; used again, it ends the family', async (t) => {
  const { olderLogin, refresh } = await setup(t);
  const { older, familyId } = await olderLogin();
  const r1 = await refresh(older);
  t.equal(r1.statusCode, 200, r1.body);
  const named = r1.json().refresh_token as string;
  t.same(parseRefreshToken(named), { familyId, generation: 0 }, 'its successor starts the generations');
  const r2 = await refresh(named);
  t.equal(r2.statusCode, 200, 'the named token rotates');
  t.same(parseRefreshToken(r2.json().refresh_token), { familyId, generation: 1 });
  const reuse = await refresh(older);
  t.equal(reuse.json().error, 'invalid_grant');
  t.match(reuse.json().error_description, /already used/);
  t.equal((await refresh(r2.json().refresh_token)).json().error, 'invalid_grant', 'the family ended');
});

// A rolling upgrade: until every instance runs the code of migration 013, an old one spends a named
// token as it spent any, marking the row used and inserting an older-style successor.
t.test('a named token rotated by an instance still running the code from before migration 013', async (t) => {
  const { login, refresh, db } = await setup(t);
  const named = await login();
  const { familyId } = parseRefreshToken(named) as { familyId: string };
  const older = randomBytes(32).toString('base64url');
  await db.query("update refresh_tokens set used_at = now() where family_id = $1 and generation = 0", [familyId]);
  await db.query(
    "insert into refresh_tokens (token_hash, family_id, created_at, expires_at) values ($1, $2, now(), now() + interval '1 hour')",
    [createHash('sha256').update(older).digest(), familyId],
  );
  const next = await refresh(older);
  t.equal(next.statusCode, 200, 'its older-style successor rotates');
  t.same(parseRefreshToken(next.json().refresh_token), { familyId, generation: 1 }, 'into the next free generation');
  const reuse = await refresh(named);
  t.match(reuse.json().error_description, /already used/, 'the named token it spent is spent');
  t.equal((await refresh(next.json().refresh_token)).json().error, 'invalid_grant', 'and reusing it ended the family');
});

t.test('grace window: an older token retried once gets the same successor', async (t) => {
  const { olderLogin, refresh } = await setup(t, { SIGIL_REFRESH_TOKEN_GRACE_SECONDS: '10' });
  const { older } = await olderLogin();
  const r1 = await refresh(older);
  const retry = await refresh(older);
  t.equal(retry.statusCode, 200, retry.body);
  t.equal(retry.json().refresh_token, r1.json().refresh_token, 'the same successor');
  t.equal((await refresh(older)).json().error, 'invalid_grant', 'only once');
});

t.test('introspection, revocation and the session listing read an older token', async (t) => {
  const { olderLogin, refresh, post, store, user, client } = await setup(t);
  const { older, familyId } = await olderLogin();
  t.equal((await post('/introspect', { token: older })).json().active, true, 'active before it rotates');
  t.match((await store().listFamilies(user.id)).items, [{ familyId, lastUsedAt: null }], 'listed, never refreshed');
  const named = (await refresh(older)).json().refresh_token as string;
  t.equal((await post('/introspect', { token: older })).json().active, false, 'spent');
  t.equal((await post('/introspect', { token: named })).json().active, true);
  const [listed] = (await store().listFamilies(user.id)).items;
  t.equal(listed?.familyId, familyId);
  t.type(listed?.lastUsedAt, Date, 'refreshed once');

  const second = await olderLogin();
  t.equal((await post('/revoke', { token: second.older })).statusCode, 200);
  t.equal((await post('/introspect', { token: second.older })).json().active, true, "another client's revocation ends nothing");
  t.equal((await post('/revoke', { token: second.older }, client)).statusCode, 200);
  t.equal((await post('/introspect', { token: second.older })).json().active, false, "its own client's ends the family");
  t.equal((await refresh(second.older)).json().error, 'invalid_grant');
});

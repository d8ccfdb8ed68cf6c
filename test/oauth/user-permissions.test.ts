import fc from 'fast-check';
import t, { type Test } from 'tap';
import { OAuthError } from '../../src/oauth/errors.js';
import { describeRefused, intersectScopes, userGrantScope } from '../../src/oauth/scope.js';
import { buildTestApp } from '../helpers/app.js';

// Issue 13: a user's token carries (requested ∩ client ∩ user), her role names, and a refresh
// re-reads what she holds now.

async function setup(t: Test) {
  const clock = { now: new Date('2034-03-01T09:00:00Z') };
  const ctx = await buildTestApp(t, { now: () => clock.now });
  const client = await ctx.seed.client({ grantTypes: ['password'], scopes: ['photos:read', 'photos:upload', 'photos:delete', 'profile'] });
  const auth = { client_id: client.clientId, client_secret: client.secret };
  const login = (username: string, password: string, scope?: string, c = auth) =>
    ctx.token({ ...c, grant_type: 'password', username, password, ...(scope !== undefined && { scope }) });
  const refresh = (refresh_token: string, scope?: string) =>
    ctx.token({ ...auth, grant_type: 'refresh_token', refresh_token, ...(scope !== undefined && { scope }) });
  const introspect = async (token: string) => {
    const rs = await ctx.seed.client({ grantTypes: ['client_credentials'], mayIntrospect: true });
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token, client_id: rs.clientId, client_secret: rs.secret }).toString(),
    });
    return res.json();
  };
  return { ...ctx, client, auth, login, refresh, introspect, advance: (s: number) => (clock.now = new Date(clock.now.getTime() + s * 1000)) };
}

t.test("a user's token: client ∩ user, her roles in `roles`, introspection alike", async (t) => {
  const { seed, login, verify, introspect } = await setup(t);
  await seed.role('photo-editor', ['photos:read', 'photos:upload', 'photos:delete', 'photos:admin']);
  await seed.role('viewer', ['photos:read']);
  const alice = await seed.user('alice', 'alice-pw', { roles: ['viewer', 'photo-editor'], scopes: ['profile', 'billing'] });

  const all = await login('alice', 'alice-pw');
  t.equal(all.statusCode, 200, all.body);
  t.equal(all.json().scope, 'photos:read photos:upload photos:delete profile', 'no scope asked: the whole intersection, in the client’s order');
  const claims = await verify(all.json().access_token);
  t.equal(claims.scope, all.json().scope);
  t.same(claims.roles, ['photo-editor', 'viewer'], 'RFC 9068 §2.2.3.1 roles: her role names');
  t.equal(claims.sub, alice.id);

  const some = await login('alice', 'alice-pw', 'photos:upload profile');
  t.equal(some.json().scope, 'photos:upload profile');
  t.equal((await verify(some.json().access_token)).scope, 'photos:upload profile');

  const seen = await introspect(some.json().access_token);
  t.match(seen, { active: true, scope: 'photos:upload profile', roles: ['photo-editor', 'viewer'], username: 'alice' });
  const rt = await introspect(some.json().refresh_token);
  t.match(rt, { active: true, token_type: 'refresh_token', scope: 'photos:upload profile', roles: ['photo-editor', 'viewer'] });
});

t.test('invalid_scope names the refused scopes: first what the client may not ask, then what the user lacks', async (t) => {
  const { seed, login } = await setup(t);
  await seed.role('viewer', ['photos:read']);
  await seed.user('bob', 'bob-pw', { roles: ['viewer'] });

  const lacking = await login('bob', 'bob-pw', 'photos:read photos:delete photos:upload');
  t.equal(lacking.statusCode, 400);
  t.same(lacking.json(), { error: 'invalid_scope', error_description: 'scope not allowed for this user: photos:delete photos:upload' });

  const billing = await login('bob', 'bob-pw', 'photos:read billing');
  t.same(billing.json(), { error: 'invalid_scope', error_description: 'scope not allowed for this client: billing' });

  const wrongPassword = await login('bob', 'not-bobs', 'photos:delete');
  t.same(
    wrongPassword.json(),
    { error: 'invalid_grant', error_description: 'invalid username or password' },
    'without her password nobody learns which scopes she lacks',
  );
  const unknown = await login('nobody', 'x', 'photos:delete');
  t.same(unknown.json(), wrongPassword.json());

  const many = Array.from({ length: 400 }, (_, i) => `not-the-clients-${i}`).join(' ');
  const long = await login('bob', 'bob-pw', many);
  t.equal(long.json().error, 'invalid_scope');
  const description: string = long.json().error_description;
  t.ok(description.length <= 260, `bounded (${description.length} characters)`);
  t.match(description, /^scope not allowed for this client: not-the-clients-0 not-the-clients-1 .* and \d+ more$/);
  t.match(description, /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/, 'RFC 6749 §5.2 charset');
});

t.test('a user who holds none of the client’s scopes logs in with an empty scope: no scope member, no scope or roles claim', async (t) => {
  const { seed, login, verify, refresh, introspect } = await setup(t);
  await seed.role('billing-clerk', ['billing']);
  await seed.user('carol', 'carol-pw', { roles: ['billing-clerk'] });
  await seed.user('dan', 'dan-pw');

  const carol = await login('carol', 'carol-pw');
  t.equal(carol.statusCode, 200, carol.body);
  t.notOk('scope' in carol.json(), 'RFC 6749 §3.3 has no empty scope value: the member is left out');
  const claims = await verify(carol.json().access_token);
  t.notOk('scope' in claims, 'no scope claim');
  t.same(claims.roles, ['billing-clerk'], 'her roles all the same');
  t.notOk('scope' in (await introspect(carol.json().access_token)), 'introspection: no scope member either');
  const r = await refresh(carol.json().refresh_token);
  t.equal(r.statusCode, 200, 'her refresh token works');
  t.notOk('scope' in r.json());

  const dan = await login('dan', 'dan-pw');
  t.equal(dan.statusCode, 200);
  const danClaims = await verify(dan.json().access_token);
  t.notOk('roles' in danClaims, 'no roles claim when she has none');
  t.notOk('scope' in danClaims);
  t.notOk('roles' in (await introspect(dan.json().access_token)));
  t.equal((await login('dan', 'dan-pw', 'profile')).json().error, 'invalid_scope', 'asking for a scope she lacks is refused');
});

t.test('a user without a password cannot log in by password, and fails like a wrong password', async (t) => {
  const { users, login } = await setup(t);
  await users.create({ username: 'erin', scopes: ['profile'] });
  const guess = await login('erin', 'anything');
  t.same(guess.json(), { error: 'invalid_grant', error_description: 'invalid username or password' });
  await users.setPassword({ username: 'erin' }, 'erin-pw');
  t.equal((await login('erin', 'erin-pw')).statusCode, 200, 'with one set, she can');
});

t.test('refresh grants what she holds now: a role taken away is felt at the next refresh, never more than at login', async (t) => {
  const { seed, users, roles, login, refresh, verify, introspect } = await setup(t);
  await seed.role('photo-editor', ['photos:read', 'photos:upload']);
  const fay = await seed.user('fay', 'fay-pw', { roles: ['photo-editor'], scopes: ['profile'] });

  const first = await login('fay', 'fay-pw');
  t.equal(first.json().scope, 'photos:read photos:upload profile');

  await users.update({ id: fay.id }, { roles: [] });
  const after = await refresh(first.json().refresh_token);
  t.equal(after.statusCode, 200, after.body);
  t.equal(after.json().scope, 'profile', 'the role’s scopes are gone at the next refresh');
  const claims = await verify(after.json().access_token);
  t.equal(claims.scope, 'profile');
  t.notOk('roles' in claims, 'and so is the roles claim');
  t.notOk('roles' in (await introspect(after.json().refresh_token)));

  const asking = await refresh(after.json().refresh_token, 'photos:upload');
  t.same(asking.json(), { error: 'invalid_scope', error_description: 'scope not allowed for this client: photos:upload' });
  const unspent = await refresh(after.json().refresh_token, 'profile');
  t.equal(unspent.statusCode, 200, 'a refused refresh left the token unspent');

  // Given back, and the role now holds more: the refresh grants what was granted at login, no more.
  await roles.update({ name: 'photo-editor' }, { scopes: ['photos:read', 'photos:upload', 'photos:delete'] });
  await users.update({ id: fay.id }, { roles: ['photo-editor'] });
  const back = await refresh(unspent.json().refresh_token);
  t.equal(back.json().scope, 'photos:read photos:upload profile', 'back up to the login’s grant, never photos:delete');
  t.same((await verify(back.json().access_token)).roles, ['photo-editor']);

  // A role's scopes narrowed, and a direct scope taken away, count the same.
  await roles.update({ name: 'photo-editor' }, { scopes: ['photos:read'] });
  await users.update({ id: fay.id }, { scopes: [] });
  const narrowed = await refresh(back.json().refresh_token);
  t.equal(narrowed.json().scope, 'photos:read');

  // The transactional path (a scope is requested) reads the same.
  t.equal((await refresh(narrowed.json().refresh_token, 'photos:read')).json().scope, 'photos:read');

  await roles.delete({ name: 'photo-editor' });
  const none = await refresh((await login('fay', 'fay-pw')).json().refresh_token);
  t.equal(none.statusCode, 200);
  t.notOk('scope' in none.json(), 'a deleted role takes its scopes along');
});

const SCOPES = ['a', 'b', 'c', 'd', 'e', 'f'];
const subset = fc.subarray(SCOPES);

t.test('property: a granted scope is always in client ∩ user; a refusal names exactly the others', async (t) => {
  fc.assert(
    fc.property(subset, subset, fc.option(fc.array(fc.constantFrom(...SCOPES, 'x'), { minLength: 1 }), { nil: undefined }), (client, user, requested) => {
      const both = new Set(intersectScopes(client, user));
      try {
        const granted = userGrantScope(requested?.join(' '), client, user);
        for (const s of granted) if (!both.has(s)) return false;
        // Nothing requested: everything in both. Requested: exactly what was asked.
        return requested === undefined ? granted.length === both.size : granted.length === new Set(requested).size;
      } catch (err) {
        if (!(err instanceof OAuthError) || err.code !== 'invalid_scope' || requested === undefined) return false;
        const refused = [...new Set(requested)].filter((s) => !both.has(s));
        const named = (err.description ?? '').replace(/^scope not allowed for this (client|user): /, '').split(' ');
        return refused.length > 0 && named.every((s) => refused.includes(s));
      }
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 cases');
  t.equal(describeRefused(Array.from({ length: 50 }, (_, i) => `scope-${i}`)).length <= 220, true);
  t.equal(describeRefused(['x'.repeat(1000)]).length, 140, 'one huge token is cut');
});

t.test('property, end to end: whatever the client, her roles and her direct scopes, the token never exceeds client ∩ user', async (t) => {
  const { seed, users, roles, token, verify } = await setup(t);
  const r1 = await roles.create({ name: 'r1' });
  const r2 = await roles.create({ name: 'r2' });
  const user = await seed.user('gus', 'gus-pw');
  let run = 0;
  await fc.assert(
    fc.asyncProperty(subset, subset, subset, subset, fc.option(subset, { nil: undefined }), async (clientScopes, role1, role2, direct, requested) => {
      run++;
      const client = await seed.client({ grantTypes: ['password'], scopes: clientScopes, name: `client ${run}` });
      await roles.update({ id: r1.id }, { scopes: role1 });
      await roles.update({ id: r2.id }, { scopes: role2 });
      await users.update({ id: user.id }, { roles: ['r1', 'r2'], scopes: direct });
      const userScopes = new Set([...role1, ...role2, ...direct]);
      const allowed = clientScopes.filter((s) => userScopes.has(s));
      const res = await token({
        grant_type: 'password',
        username: 'gus',
        password: 'gus-pw',
        client_id: client.clientId,
        client_secret: client.secret,
        ...(requested !== undefined && requested.length > 0 && { scope: requested.join(' ') }),
      });
      const asked = requested !== undefined && requested.length > 0 ? requested : undefined;
      if (asked && !asked.every((s) => allowed.includes(s))) return res.statusCode === 400 && res.json().error === 'invalid_scope';
      if (res.statusCode !== 200) return false;
      const claims = await verify(res.json().access_token);
      const granted = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
      return (
        granted.every((s) => allowed.includes(s)) &&
        granted.length === (asked ?? allowed).length &&
        res.json().scope === claims.scope
      );
    }),
    { numRuns: 25 },
  );
  t.pass(`${run} logins`);
});

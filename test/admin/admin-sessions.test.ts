import t from 'tap';
import { makeProof, proofKey } from '../helpers/dpop.js';
import { isProblem, setup } from './helpers.js';

interface Session {
  id: string;
  client_id: string;
  last_used_at: string | null;
  dpop_bound: boolean;
}

t.test("users/{id}/sessions: list, end one, end all; another user's session is 404", async (t) => {
  const logs: string[] = [];
  const h = await setup(t, { logs });
  const app = await h.seed.client({ grantTypes: ['password'], scopes: ['photos:read'] });
  const alice = await h.seed.user('alice', 'alice password 1', { scopes: ['photos:read'] });
  const bob = await h.seed.user('bob', 'bob password 1', { scopes: ['photos:read'] });
  const auth = { client_id: app.clientId, client_secret: app.secret };
  const login = async (username: string, headers: Record<string, string> = {}) => {
    const res = await h.token({ ...auth, grant_type: 'password', username, password: `${username} password 1` }, headers);
    t.equal(res.statusCode, 200, res.body);
    return res.json().refresh_token as string;
  };
  const refresh = (token: string) => h.token({ ...auth, grant_type: 'refresh_token', refresh_token: token });
  const sessions = async (id: string, query = '') => {
    const res = await h.call('GET', `/users/${id}/sessions${query}`);
    t.equal(res.statusCode, 200, res.body);
    return res.json() as { items: Session[]; next: string | null };
  };

  const tokens = [await login('alice'), await login('alice'), await login('alice', { dpop: await makeProof(await proofKey()) })];
  const bobs = await login('bob');
  const listed = await sessions(alice.id);
  t.equal(listed.items.length, 3);
  t.equal(listed.next, null);
  t.match(listed.items[0], {
    id: /^[0-9a-f-]{36}$/,
    client_id: app.clientId,
    scopes: ['photos:read'],
    created_at: String,
    last_used_at: null,
    expires_at: String,
    absolute_expires_at: String,
  });
  t.same(listed.items.map((s) => s.dpop_bound).sort(), [false, false, true], 'which one is DPoP-bound');
  const body = JSON.stringify(listed);
  for (const token of [...tokens, bobs]) t.notOk(body.includes(token), 'never a token');
  t.same(
    listed.items.map((s) => s.id),
    [...listed.items.map((s) => s.id)].sort(),
    'a stable order (by id)',
  );

  // A refresh shows as last used, and the session keeps its id.
  const rotated = await refresh(tokens[0] as string);
  t.equal(rotated.statusCode, 200, rotated.body);
  tokens[0] = rotated.json().refresh_token;
  const used = (await sessions(alice.id)).items.filter((s) => s.last_used_at !== null);
  t.equal(used.length, 1, 'one was refreshed');

  // Pages of one, followed through `next`.
  const seen: string[] = [];
  let url: string | null = `/admin/v1/users/${alice.id}/sessions?limit=1`;
  while (url) {
    const res: { statusCode: number; json(): unknown } = await h.app.inject({ url, headers: { authorization: `Bearer ${h.admin.token}` } });
    t.equal(res.statusCode, 200);
    const page = res.json() as { items: Session[]; next: string | null };
    seen.push(...page.items.map((s) => s.id));
    url = page.next;
  }
  t.same(seen, listed.items.map((s) => s.id), 'every session once, in order');
  const badCursor = isProblem(t, await h.call('GET', `/users/${alice.id}/sessions?after=garbage`), 400, 'invalid-input');
  t.equal(badCursor.errors[0].field, 'after');
  const foreignCursor = Buffer.from('k1:not-a-uuid').toString('base64url');
  isProblem(t, await h.call('GET', `/users/${alice.id}/sessions?after=${foreignCursor}`), 400, 'invalid-input');
  isProblem(t, await h.call('GET', `/users/${alice.id}/sessions?limit=500`), 400, 'invalid-input');
  isProblem(t, await h.call('GET', '/users/00000000-0000-4000-8000-000000000000/sessions'), 404, 'not-found');
  isProblem(t, await h.call('GET', '/users/not-a-uuid/sessions'), 404, 'not-found');

  // Bob's session through Alice's path: 404, and it still works.
  const bobSession = (await sessions(bob.id)).items[0] as Session;
  isProblem(t, await h.call('DELETE', `/users/${alice.id}/sessions/${bobSession.id}`), 404, 'not-found');
  isProblem(t, await h.call('DELETE', `/users/${alice.id}/sessions/not-a-uuid`), 404, 'not-found');
  const bobRefresh = await refresh(bobs);
  t.equal(bobRefresh.statusCode, 200, "bob's session was not touched");

  const readOnly = await h.tokenFor('sigil:admin:read');
  t.equal((await h.call('GET', `/users/${alice.id}/sessions`, { token: readOnly.token })).statusCode, 200);
  isProblem(t, await h.call('DELETE', `/users/${alice.id}/sessions`, { token: readOnly.token }), 403, 'insufficient-scope');

  // End one: its refresh token stops at once; the others keep working.
  const target = listed.items.find((s) => s.dpop_bound === false && s.last_used_at === null) as Session;
  t.equal((await h.call('DELETE', `/users/${alice.id}/sessions/${target.id}`)).statusCode, 204);
  t.notOk((await sessions(alice.id)).items.some((s) => s.id === target.id), 'gone from the list');
  const results = await Promise.all(tokens.slice(0, 2).map((tok) => refresh(tok as string)));
  t.same(results.map((r) => r.statusCode).sort(), [200, 400], 'the ended one is refused, the other refreshes');
  t.equal(results.find((r) => r.statusCode === 400)?.json().error, 'invalid_grant');
  t.equal((await h.call('DELETE', `/users/${alice.id}/sessions/${target.id}`)).statusCode, 204, 'ending it again is no error');

  // End all.
  const all = await h.call('DELETE', `/users/${alice.id}/sessions`);
  t.equal(all.statusCode, 200, all.body);
  t.same(all.json(), { ended: 2 });
  t.same((await sessions(alice.id)).items, []);
  t.same((await h.call('DELETE', `/users/${alice.id}/sessions`)).json(), { ended: 0 });
  t.equal((await sessions(bob.id)).items.length, 1, "bob's session outlives alice's end-all");
  isProblem(t, await h.call('DELETE', '/users/00000000-0000-4000-8000-000000000000/sessions'), 404, 'not-found');

  const audits = logs.map((l) => JSON.parse(l)).filter((l) => l.audit?.event === 'admin_change').map((l) => l.audit);
  t.same(
    audits.map((a) => [a.action, a.target]),
    [
      ['session.end', `user:${alice.id}/session:${target.id}`],
      ['session.end_all', `user:${alice.id}`],
      ['session.end_all', `user:${alice.id}`],
    ],
  );
  const logText = logs.join('');
  for (const token of [...tokens, bobs]) t.notOk(logText.includes(token as string), 'no refresh token in the logs');
});

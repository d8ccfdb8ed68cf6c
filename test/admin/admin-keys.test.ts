import t from 'tap';
import { isProblem, setup } from './helpers.js';

interface KeyBody {
  kid: string;
  state: string;
}
const KEY_FIELDS = ['activates_at', 'alg', 'created_at', 'kek_id', 'kid', 'removes_at', 'retires_at', 'revoked_at', 'state'];

t.test('keys: list, get, rotate, rotate now, revoke; ETags, audit, never key material', async (t) => {
  const logs: string[] = [];
  const h = await setup(t, { logs });
  const jwks = async () => (await h.app.inject({ url: '/.well-known/jwks.json' })).json() as { keys: Array<Record<string, string>> };
  const published = async () => (await jwks()).keys.map((k) => k.kid);
  // Everything a key's material could show up as: the public halves' coordinates (the private
  // half never leaves the database encrypted; `d` would be its name in a JWK).
  const material = async () => (await jwks()).keys.flatMap((k) => [k.x, k.y, k.n].filter((v): v is string => !!v));
  const noMaterial = async (body: string, what: string) => {
    t.notMatch(body, /"d"|ciphertext|private|nonce/i, `${what}: no private field`);
    for (const m of await material()) t.notOk(body.includes(m), `${what}: no public key material either`);
  };

  const list = await h.call('GET', '/keys');
  t.equal(list.statusCode, 200, list.body);
  const [first] = list.json().items as KeyBody[];
  t.equal(list.json().items.length, 1);
  t.match(first, { state: 'active', alg: 'ES256' });
  t.same(Object.keys(first as object).sort(), KEY_FIELDS, 'only the schedule and public facts');
  const setTag = list.headers.etag as string;
  t.match(setTag, /^"[\w-]{22}"$/);
  await noMaterial(list.body, 'list');

  const readOnly = await h.tokenFor('sigil:admin:read');
  t.equal((await h.call('GET', '/keys', { token: readOnly.token })).statusCode, 200, 'a read token lists');
  isProblem(t, await h.call('POST', '/keys/rotate', { token: readOnly.token }), 403, 'insufficient-scope');
  isProblem(t, await h.call('POST', `/keys/${first?.kid}/revoke`, { token: readOnly.token }), 403, 'insufficient-scope');

  const one = await h.call('GET', `/keys/${first?.kid}`);
  t.equal(one.statusCode, 200);
  t.same(one.json(), first);
  t.match(one.headers.etag, /^"[\w-]{22}"$/);
  const unknown = isProblem(t, await h.call('GET', '/keys/no-such-kid'), 404, 'not-found');
  t.notMatch(unknown.detail, /no-such-kid/, 'the kid is not echoed');
  isProblem(t, await h.call('POST', '/keys/no-such-kid/revoke'), 404, 'not-found');
  isProblem(t, await h.call('POST', '/keys/no-such-kid/revoke', { headers: { 'if-match': '"x"' } }), 404, 'not-found');

  // Rotate: a stale set ETag changes nothing; the current one schedules the next key.
  isProblem(t, await h.call('POST', '/keys/rotate', { headers: { 'if-match': '"stale"' } }), 412, 'precondition-failed');
  isProblem(t, await h.call('POST', '/keys/rotate', { headers: { 'if-match': 'not quoted' } }), 400, 'invalid-input');
  t.equal((await h.call('GET', '/keys')).json().items.length, 1, 'the refused rotation did nothing');
  const rotated = await h.call('POST', '/keys/rotate', { headers: { 'if-match': setTag } });
  t.equal(rotated.statusCode, 200, rotated.body);
  const created = rotated.json().events.find((e: { type: string }) => e.type === 'created');
  t.ok(created?.kid, 'a key was created');
  const pending = created.kid as string;
  t.ok(Date.parse(created.activatesAt) > Date.now(), 'it signs only after the lead time');
  t.match(rotated.json(), { changed: true, keys: [{ kid: first?.kid, state: 'active' }, { kid: pending, state: 'pending' }] });
  t.not(rotated.headers.etag, setTag);
  t.equal(rotated.headers.etag, (await h.call('GET', '/keys')).headers.etag, 'the answer carries the new set ETag');
  t.ok((await published()).includes(pending), 'published at once (this instance reloaded)');
  await noMaterial(rotated.body, 'rotate');
  isProblem(t, await h.call('POST', '/keys/rotate', { headers: { 'if-match': setTag } }), 412, 'precondition-failed');
  const again = await h.call('POST', '/keys/rotate');
  t.equal(again.statusCode, 200);
  t.match(again.json(), { changed: false, events: [{ type: 'already-pending', kid: pending }] });

  // Rotate now: the pending key is dropped, the active one retires, a new key signs at once.
  const now = await h.call('POST', '/keys/rotate-now');
  t.equal(now.statusCode, 200, now.body);
  const nowJson = now.json();
  t.match(nowJson.events, [{ type: 'retired', kid: first?.kid }, { type: 'dropped', kid: pending }, { type: 'created' }]);
  const current = nowJson.events[2].kid as string;
  t.equal(h.keys.signingKey()?.kid, current, 'the new key signs');
  t.same((await published()).sort(), [first?.kid, current].sort(), 'the retired key stays published');
  t.equal((await h.call('GET', '/keys')).statusCode, 200, 'tokens signed by the retired key still open the API');

  // Revoke: If-Match is the key's own ETag.
  const firstTag = (await h.call('GET', `/keys/${first?.kid}`)).headers.etag as string;
  t.not(firstTag, one.headers.etag, "the key's ETag followed its new schedule");
  isProblem(t, await h.call('POST', `/keys/${first?.kid}/revoke`, { headers: { 'if-match': one.headers.etag as string } }), 412, 'precondition-failed');
  const revoked = await h.call('POST', `/keys/${first?.kid}/revoke`, { headers: { 'if-match': firstTag } });
  t.equal(revoked.statusCode, 200, revoked.body);
  t.match(revoked.json(), { changed: true, events: [{ type: 'revoked', kid: first?.kid }] });
  t.notOk((await published()).includes(first?.kid as string), 'out of the JWKS at once');
  // The admin token was signed by that key: it no longer verifies anywhere, here included.
  isProblem(t, await h.call('GET', '/keys'), 401, 'invalid-token');
  const fresh = await h.tokenFor('sigil:admin:read sigil:admin:write');
  const revokedKey = (await h.call('GET', `/keys/${first?.kid}`, { token: fresh.token })).json();
  t.equal(revokedKey.state, 'revoked');
  t.equal(revoked.headers.etag, (await h.call('GET', `/keys/${first?.kid}`, { token: fresh.token })).headers.etag);
  const twice = await h.call('POST', `/keys/${first?.kid}/revoke`, { token: fresh.token });
  t.equal(twice.statusCode, 200);
  t.match(twice.json(), { changed: false, events: [{ type: 'already-revoked' }] });

  // Revoking the key that signs: a new one signs at once (the CLI's rule: never without a signing key).
  const signing = await h.call('POST', `/keys/${current}/revoke`, { token: fresh.token });
  t.equal(signing.statusCode, 200, signing.body);
  const successor = signing.json().events.find((e: { type: string }) => e.type === 'created')?.kid;
  t.ok(successor);
  t.equal(h.keys.signingKey()?.kid, successor);

  const audits = logs.map((l) => JSON.parse(l)).filter((l) => l.audit?.event === 'admin_change').map((l) => l.audit);
  t.same(
    audits.map((a) => [a.action, a.target]),
    [
      ['key.rotate', `key:${pending}`],
      ['key.rotate_now', `key:${current}`],
      ['key.revoke', `key:${first?.kid}`],
      ['key.revoke', `key:${current}`],
    ],
    'one line per change, none for the no-ops',
  );
  t.equal(audits[0].admin_client_id, h.admin.client.clientId);
  await noMaterial(logs.join(''), 'logs');
});

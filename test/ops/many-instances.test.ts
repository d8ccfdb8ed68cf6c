import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import t from 'tap';
import { basicAuth } from '../helpers/app.js';
import { createCliTarget, runCli } from '../helpers/cli.js';
import { ON_POSTGRES } from '../helpers/db.js';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js';

// Two Sigil processes on one PostgreSQL database, under load, while the keys rotate, a token is
// revoked and a client is disabled.
t.test('many instances agree', { skip: !ON_POSTGRES && 'needs PostgreSQL', timeout: 180_000 }, async (t) => {
  const target = await createCliTarget(t);
  const env = { ...target.env, SIGIL_RATE_LIMIT_PER_MINUTE: '0' };
  const cli = async (args: string[]) => {
    const r = await runCli([...args, '--json'], { env });
    if (r.code !== 0) throw new Error(`sigil ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const a = await cli(['clients', 'create', '--name', 'A', '--grant', 'client_credentials', '--introspect']);
  const b = await cli(['clients', 'create', '--name', 'B', '--grant', 'client_credentials']);
  const servers = [await startServerProcess(t, env), await startServerProcess(t, env)];
  const [one, two] = servers as [ServerProcess, ServerProcess];

  const post = (s: ServerProcess, path: string, auth: { client_id: string; client_secret: string }, body: string) =>
    fetch(`${s.url}${path}`, {
      method: 'POST',
      headers: { authorization: basicAuth(auth.client_id, auth.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(20_000),
    });
  const keysBefore = (await cli(['keys', 'list'])) as { kid: string }[];

  // Load on both instances; a key rotation (--now: the new key signs at once) in the middle.
  const tokens: string[] = [];
  const statuses = new Map<number, number>();
  let loading = true;
  const worker = async (i: number) => {
    while (loading) {
      const res = await post(servers[i % 2] as ServerProcess, '/token', a, 'grant_type=client_credentials');
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 200) tokens.push(((await res.json()) as { access_token: string }).access_token);
    }
  };
  const workers = Array.from({ length: 6 }, (_, i) => worker(i));
  await new Promise((r) => setTimeout(r, 1000));
  await cli(['keys', 'rotate', '--now']);
  await new Promise((r) => setTimeout(r, 2000));
  loading = false;
  await Promise.all(workers);
  t.same([...statuses.keys()], [200], `only 200s under load: ${JSON.stringify(Object.fromEntries(statuses))}`);

  const keysAfter = (await cli(['keys', 'list'])) as { kid: string }[];
  t.equal(keysAfter.length, keysBefore.length + 1, 'exactly one new key for the one rotation');

  // Every token, from either instance, verifies against the JWKS of each instance.
  const jwks = await Promise.all(
    servers.map(async (s) => createLocalJWKSet((await (await fetch(`${s.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet)),
  );
  const kids = new Set<string>();
  let verified = 0;
  for (const token of tokens) {
    for (const set of jwks) {
      const { protectedHeader } = await jwtVerify(token, set, { typ: 'at+jwt' });
      kids.add(protectedHeader.kid ?? '');
      verified++;
    }
  }
  t.equal(verified, tokens.length * 2, `${tokens.length} tokens verified on both instances`);
  t.ok(kids.size >= 2, 'tokens signed before and after the rotation');

  // Introspection agrees, and a revocation on one instance is seen by the other at once.
  const sample = tokens.at(-1) as string;
  const introspect = async (s: ServerProcess) =>
    ((await (await post(s, '/introspect', a, `token=${sample}`)).json()) as { active: boolean }).active;
  t.same([await introspect(one), await introspect(two)], [true, true]);
  t.equal((await post(one, '/revoke', a, `token=${sample}`)).status, 200);
  t.same([await introspect(one), await introspect(two)], [false, false], 'revoked on one, inactive on both');

  // A disabled client is refused everywhere within a bound.
  t.equal((await post(two, '/token', b, 'grant_type=client_credentials')).status, 200);
  await cli(['clients', 'disable', b.client_id]);
  const refusedEverywhere = async () =>
    (await Promise.all(servers.map((s) => post(s, '/token', b, 'grant_type=client_credentials')))).every((r) => r.status === 401);
  let refused = false;
  for (let i = 0; i < 40 && !refused; i++) {
    refused = await refusedEverywhere();
    if (!refused) await new Promise((r) => setTimeout(r, 250));
  }
  t.ok(refused, 'the disabled client is refused by every instance within 10 seconds');

  t.equal(await one.stop(), 0);
  t.equal(await two.stop(), 0);
});

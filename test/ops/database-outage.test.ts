import { randomBytes } from 'node:crypto';
import t from 'tap';
import { basicAuth } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { ON_POSTGRES } from '../helpers/db.js';
import { clusterUnavailable, startThrowawayCluster } from '../helpers/pg-cluster.js';
import { startServerProcess } from '../helpers/server-process.js';

const skip = !ON_POSTGRES ? 'runs in the PostgreSQL pass of the suite' : clusterUnavailable();

// PostgreSQL goes away under load and comes back: Sigil answers 503 within a bound, keeps
// serving what it holds in memory, never crashes, and recovers by itself (LISTEN included).
t.test('database outage and recovery', { skip, timeout: 240_000 }, async (t) => {
  const cluster = await startThrowawayCluster(t);
  const env = {
    DATABASE_URL: cluster.url,
    SIGIL_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    SIGIL_DB_CONNECT_TIMEOUT_MS: '1000',
    SIGIL_DB_STATEMENT_TIMEOUT_MS: '2000',
    // Long enough that only NOTIFY can deliver the key change checked at the end.
    SIGIL_KEY_RELOAD_SECONDS: '600',
  };
  const created = await runCli(
    ['clients', 'create', '--name', 'Svc', '--grant', 'client_credentials', '--grant', 'password', '--introspect', '--json'],
    { env },
  );
  t.equal(created.code, 0, created.stderr);
  const { client_id, client_secret } = JSON.parse(created.stdout);
  const server = await startServerProcess(t, env);

  const tokenRequest = () =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(client_id, client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
      // Not a speed check: a request still pending after this would be a hang.
      signal: AbortSignal.timeout(20_000),
    });
  const first = await tokenRequest();
  t.equal(first.status, 200);
  const accessToken = ((await first.json()) as { access_token: string }).access_token;
  type Jwks = { keys: { kid: string }[] };
  const jwksBefore = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as Jwks;

  // Load in the background, through the outage: token requests and introspections (which always
  // need the database).
  const statuses = new Map<string, number>();
  let loading = true;
  const introspection = () =>
    fetch(`${server.url}/introspect`, {
      method: 'POST',
      headers: { authorization: basicAuth(client_id, client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${accessToken}`,
      signal: AbortSignal.timeout(20_000),
    });
  const worker = async (i: number) => {
    while (loading) {
      const key = await (i % 2 ? tokenRequest() : introspection()).then(
        (r) => String(r.status),
        (e: Error) => (e.name === 'TimeoutError' ? 'hang' : `network: ${e.message}`),
      );
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }
  };
  const workers = Array.from({ length: 4 }, (_, i) => worker(i));
  await new Promise((r) => setTimeout(r, 500));
  await cluster.stop();

  // Client authentication may come from the in-memory client cache; a login needs the database.
  const down = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(client_id, client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=someone&password=whatever',
    signal: AbortSignal.timeout(20_000),
  });
  t.equal(down.status, 503, 'a request that needs the database gets 503 while it is down');
  t.ok(Number(down.headers.get('retry-after')) > 0, 'with Retry-After');
  t.same(await down.json(), {
    error: 'temporarily_unavailable',
    error_description: 'the service is temporarily unavailable: retry shortly',
  });
  const introspect = await introspection();
  t.equal(introspect.status, 503, 'introspection needs the database too');
  t.equal((await fetch(`${server.url}/readyz`)).status, 503, 'not ready');
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'but alive');
  const jwks = await fetch(`${server.url}/.well-known/jwks.json`);
  t.equal(jwks.status, 200, 'JWKS served from memory');
  t.same(await jwks.json(), jwksBefore);
  const metadata = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
  t.equal(metadata.status, 200, 'metadata served from memory');
  t.same(((await metadata.json()) as { scopes_supported: string[] }).scopes_supported, []);

  await new Promise((r) => setTimeout(r, 1000));
  await cluster.start();
  let ready = 0;
  for (let i = 0; i < 120 && ready !== 200; i++) {
    await new Promise((r) => setTimeout(r, 250));
    ready = (await fetch(`${server.url}/readyz`)).status;
  }
  t.equal(ready, 200, 'ready again once the database is back');
  loading = false;
  await Promise.all(workers);
  const seen = Object.fromEntries(statuses);
  t.ok((seen['200'] ?? 0) > 0 && (seen['503'] ?? 0) > 0, `load saw both 200 and 503: ${JSON.stringify(seen)}`);
  t.same(Object.keys(seen).filter((k) => k !== '200' && k !== '503'), [], 'nothing but 200 and 503: no 500, no hang');
  t.equal((await tokenRequest()).status, 200, 'tokens again');

  // The LISTEN connection came back too: a key change made elsewhere arrives by NOTIFY.
  const rotated = await runCli(['keys', 'rotate', '--now', '--json'], { env });
  t.equal(rotated.code, 0, rotated.stderr);
  const kids = (body: Jwks) => body.keys.map((k) => k.kid).sort().join(',');
  let after = kids(jwksBefore);
  for (let i = 0; i < 160 && after === kids(jwksBefore); i++) {
    await new Promise((r) => setTimeout(r, 250));
    after = kids((await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as Jwks);
  }
  t.not(after, kids(jwksBefore), 'the new key reached the server through the re-established LISTEN');

  t.equal(await server.stop(), 0, 'a clean stop after all that');
  t.notMatch(server.output(), /unhandled|uncaught/i, 'no unhandled rejection or exception');
});

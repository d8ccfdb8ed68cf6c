import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createCliTarget, runCli } from '../helpers/cli.js';
import { ON_POSTGRES } from '../helpers/db.js';
import { startServerProcess } from '../helpers/server-process.js';

t.test('serve: health, the CLI beside the running server, graceful stop, data kept across restarts', async (t) => {
  const target = await createCliTarget(t);
  const env: Record<string, string> = { ...target.env, SIGIL_DEMO: 'false' };
  const server = await startServerProcess(t, env);

  const health = await fetch(`${server.url}/healthz`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  const ready = await fetch(`${server.url}/readyz`);
  t.equal(ready.status, 200);
  t.same(await ready.json(), { status: 'ready' });

  const created = await runCli(['clients', 'create', '--name', 'Live', '--id', 'live', '--grant', 'client_credentials', '--json'], {
    env,
  });
  t.equal(created.code, 0, `the CLI works while the server runs: ${created.stderr}`);
  const user = await runCli(['users', 'create', '--username', 'erin', '--password-stdin'], { env, input: 'pw' });
  t.equal(user.code, 0, user.stderr);

  if (!ON_POSTGRES) {
    const second = await runCli(['serve'], { env: { ...env, PORT: '0' } });
    t.equal(second.code, 1, 'a second server on the same data folder is refused');
    t.match(second.stderr, /in use by process \d+/);
  }

  t.equal(await server.stop(), 0, 'SIGTERM closes cleanly');
  t.match(server.output(), /SIGTERM received/);
  if (!ON_POSTGRES) t.notOk(existsSync(join(env.SIGIL_DATA_DIR ?? '', 'sigil.lock')), 'lock released');

  const restarted = await startServerProcess(t, env);
  const clients = await runCli(['clients', 'list', '--json'], { env });
  t.same(
    JSON.parse(clients.stdout).map((c: { client_id: string }) => c.client_id),
    ['live'],
    'data survives a restart',
  );
  const users = await runCli(['users', 'list', '--json'], { env });
  t.same(JSON.parse(users.stdout).map((u: { username: string }) => u.username), ['erin']);
  t.equal(await restarted.stop(), 0);
});

t.test('404 and unknown methods answer with an OAuth-style JSON error', async (t) => {
  const { env } = await createCliTarget(t);
  const server = await startServerProcess(t, env);
  const res = await fetch(`${server.url}/nope?x=1`);
  t.equal(res.status, 404);
  t.same(await res.json(), { error: 'invalid_request', error_description: 'there is no GET endpoint at this path' });
  t.equal(await server.stop(), 0);
});

t.test('first run on the embedded database: a demo client and user, and curl lines that work', async (t) => {
  const { env } = await createCliTarget(t);
  const server = await startServerProcess(t, env);
  const out = await server.waitFor(/Stop with Ctrl-C/);
  if (ON_POSTGRES) {
    t.notMatch(out, /demo client/, 'never a demo on PostgreSQL');
    t.match(out, /npx sigil clients create/, 'but how to get a first token');
    t.same(JSON.parse((await runCli(['clients', 'list', '--json'], { env })).stdout), []);
    t.equal(await server.stop(), 0);
    return;
  }
  const banner = out;
  const secret = /client_secret\s+(\S+)/.exec(banner)?.[1] ?? '';
  const password = /password\s+(\S+)/.exec(banner)?.[1] ?? '';
  t.match(secret, /^[A-Za-z0-9_-]{43}$/, 'the demo secret is printed');
  t.match(banner, /curl -s -u 'demo:[^']+' -d grant_type=client_credentials http:\/\/127\.0\.0\.1:\d+\/token/);
  t.match(banner, /-d grant_type=password -d username=demo/);
  const basic = `Basic ${Buffer.from(`demo:${secret}`).toString('base64')}`;
  const post = (body: string) =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  const cc = await post('grant_type=client_credentials');
  t.equal(cc.status, 200, 'the printed client_credentials line works');
  const pw = await post(`grant_type=password&username=demo&password=${encodeURIComponent(password)}`);
  t.equal(pw.status, 200, 'the printed password line works');
  t.equal(await server.stop(), 0);

  const again = await startServerProcess(t, env);
  t.notMatch(await again.waitFor(/Stop with Ctrl-C/), /client_secret/, 'the secrets are printed once, on the first run only');
  t.equal(await again.stop(), 0);
});

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createCliTarget, runCli } from '../helpers/cli.js';
import { ON_POSTGRES } from '../helpers/db.js';
import { startServerProcess } from '../helpers/server-process.js';

t.test('serve: health, the CLI beside the running server, graceful stop, data kept across restarts', async (t) => {
  const { env } = await createCliTarget(t);
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
  t.same(await res.json(), { error: 'invalid_request', error_description: 'no route for GET /nope' });
  t.equal(await server.stop(), 0);
});

import t, { type Test } from 'tap';
import { availableParallelism } from 'node:os';
import { ConfigError, parseConfig } from '../../src/config.js';
import { restartDelayMs } from '../../src/server.js';
import { createCliTarget, runCli } from '../helpers/cli.js';
import { ON_POSTGRES } from '../helpers/db.js';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js';

const LISTENING = /"pid":(\d+)[^\n]*"msg":"Server listening at/g;
const listeningPids = (out: string) => [...out.matchAll(LISTENING)].map((m) => Number(m[1]));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('SIGIL_WORKERS: a number or auto, PostgreSQL only', async (t) => {
  const pg = { DATABASE_URL: 'postgres://127.0.0.1/x' };
  t.equal(parseConfig({}).workers, 1, 'default: one process');
  t.equal(parseConfig({ ...pg, SIGIL_WORKERS: '3' }).workers, 3);
  t.equal(parseConfig({ ...pg, SIGIL_WORKERS: 'auto' }).workers, availableParallelism());
  t.throws(() => parseConfig({ ...pg, SIGIL_WORKERS: '0' }), ConfigError);
  t.throws(() => parseConfig({ ...pg, SIGIL_WORKERS: 'many' }), /SIGIL_WORKERS: must be a whole number from 1 to 256, or auto/);
  t.throws(() => parseConfig({ SIGIL_WORKERS: '2' }), /needs PostgreSQL/);
  t.equal(parseConfig({ SIGIL_WORKERS: '1' }).workers, 1, 'one worker is fine on the embedded database');
});

t.test('restart backoff: at once after a long life, doubling after quick deaths, capped', async (t) => {
  t.same([0, 1, 2, 3, 8, 20].map(restartDelayMs), [0, 100, 200, 400, 10_000, 10_000]);
});

t.test('the embedded database refuses more than one worker, in one line', async (t) => {
  const dataDir = t.testdir();
  const res = await runCli(['serve'], { env: { SIGIL_DATA_DIR: dataDir, SIGIL_WORKERS: '2', PORT: '0' } });
  t.equal(res.code, 1);
  t.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  t.match(res.stderr, /SIGIL_WORKERS=2 needs PostgreSQL \(DATABASE_URL\)/);
});

/** Starts SIGIL_WORKERS=2 and waits until both workers listen; a client_credentials client and its secret. */
async function startTwoWorkers(t: Test) {
  const target = await createCliTarget(t);
  const env = { ...target.env, SIGIL_WORKERS: '2', SIGIL_DEMO: 'false', SIGIL_RATE_LIMIT_PER_MINUTE: '0' };
  const server = await startServerProcess(t, env);
  await server.waitFor(/Server listening at[\s\S]*Server listening at/, 20_000);
  const created = await runCli(['clients', 'create', '--name', 'W', '--id', 'w', '--grant', 'client_credentials', '--json'], { env });
  t.equal(created.code, 0, created.stderr);
  const secret: string = JSON.parse(created.stdout).client_secret;
  const basic = `Basic ${Buffer.from(`w:${secret}`).toString('base64')}`;
  const token = () =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
      // Bounded: a connection handed to a worker as it was killed may never be answered.
      signal: AbortSignal.timeout(10_000),
    });
  return { server, token };
}

/** `concurrency` loops, `perLoop` tokens each: statuses counted, network failures counted apart. */
async function load(token: () => Promise<Response>, concurrency: number, perLoop: number, during?: () => Promise<void>) {
  const statuses = new Map<number, number>();
  let failed = 0;
  const loop = async () => {
    for (let i = 0; i < perLoop; i++) {
      try {
        const res = await token();
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      } catch {
        failed++; // a connection the killed worker held: reset, or never answered
      }
    }
  };
  await Promise.all([...Array.from({ length: concurrency }, loop), during?.()]);
  return { statuses, failed };
}

const tokensIssued = async (server: ServerProcess) => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^sigil_tokens_issued_total\{grant="client_credentials"\} (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
};

t.test('SIGIL_WORKERS=2: two workers serve tokens, /metrics adds them up, SIGTERM stops all', { skip: !ON_POSTGRES && 'PostgreSQL only (set TEST_DATABASE_URL)' }, async (t) => {
  const { server, token } = await startTwoWorkers(t);
  const workers = listeningPids(server.output());
  t.equal(new Set(workers).size, 2, 'two worker processes listen');
  t.notOk(workers.includes(server.child.pid ?? -1), 'the primary serves no requests itself');
  t.equal(server.output().match(/Stop with Ctrl-C/g)?.length, 1, 'the welcome text is printed once');

  const { statuses, failed } = await load(token, 4, 10);
  t.same([...statuses], [[200, 40]]);
  t.equal(failed, 0);
  const servedBy = new Set([...server.output().matchAll(/"pid":(\d+)[^\n]*"path":"\/token","status":200/g)].map((m) => Number(m[1])));
  t.same([...servedBy].sort(), [...workers].sort(), 'both workers served tokens');
  // Each scrape lands on either worker; with one registry per worker it would show about half.
  for (let i = 0; i < 4; i++) t.equal(await tokensIssued(server), 40, 'the sum over both workers');

  t.equal(await server.stop(), 0, 'SIGTERM: exit 0');
  t.match(server.output(), /SIGTERM received/);
  for (const pid of workers) t.notOk(alive(pid), `worker ${pid} is gone too`);
});

t.test('a worker killed under load is replaced; no request gets a 5xx', { skip: !ON_POSTGRES && 'PostgreSQL only (set TEST_DATABASE_URL)' }, async (t) => {
  const { server, token } = await startTwoWorkers(t);
  const [victim, survivor] = listeningPids(server.output());
  const concurrency = 4;
  const { statuses, failed } = await load(token, concurrency, 40, async () => {
    await new Promise((r) => setTimeout(r, 150));
    process.kill(victim ?? -1, 'SIGKILL');
  });
  t.same([...statuses.keys()], [200], `only 200s: ${JSON.stringify([...statuses])}`);
  t.ok(failed <= concurrency, `no more failures than the connections the dead worker held (${failed})`);
  t.equal((statuses.get(200) ?? 0) + failed, concurrency * 40, 'every request accounted for');
  await server.waitFor(new RegExp(`worker ${victim} died \\(SIGKILL\\); starting another`));
  await server.waitFor(/(Server listening at[\s\S]*){3}/, 20_000);
  const replacement = listeningPids(server.output())[2];
  t.ok(replacement !== undefined && replacement !== victim && replacement !== survivor, 'a new worker listens');
  const after = await load(token, 2, 5);
  t.same([...after.statuses], [[200, 10]], 'and the pair serves again');

  t.equal(await server.stop(), 0);
  for (const pid of [survivor ?? -1, replacement ?? -1]) t.notOk(alive(pid), `worker ${pid} stopped`);
});

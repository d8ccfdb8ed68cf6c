// `npm run bench:import`: how fast `sigil users import` brings users in with existing hashes, on
// PostgreSQL (issue 16's target: at least 20,000 users/s on this 2-core machine). A file of
// BENCH_IMPORT_USERS lines (default 200,000; bcrypt, Django PBKDF2 and argon2id hashes, a few
// distinct ones repeated, as verifying them is not part of an import) is written to a temporary
// folder, then imported by the CLI as an operator would run it, into a fresh database that is
// dropped afterwards. The time includes the CLI's start and its migration check.
//
// On a shared machine users/s says more about the neighbours than about the import, so the CPU
// per user is printed beside it: the CLI's (its process time, start included) and its PostgreSQL
// backend's (sampled from /proc while it runs; Linux with a local server only), with the load.
// BENCH_IMPORT_ROLES (0 to 1, default 0) gives that share of the lines a role and two scopes.
import { spawn } from 'node:child_process';
import { pbkdf2Sync } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { createPostgresDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { prepareDatabase } from './lib/database.js';

const SIGIL = fileURLToPath(new URL('../bin/sigil.js', import.meta.url));
const log = (msg: string) => process.stderr.write(`[bench:import] ${msg}\n`);
const n = Number(process.env.BENCH_IMPORT_USERS ?? 200_000);
const roleShare = Number(process.env.BENCH_IMPORT_ROLES ?? 0);
const ROLE = 'bench-importer';

/** CPU seconds of a process (with `children`: of its exited, waited-for children), or undefined off Linux. */
function cpuSeconds(pid: number | 'self', children = false): number | undefined {
  try {
    const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []).map(Number);
    return ((children ? (f[13] ?? 0) + (f[14] ?? 0) : (f[11] ?? 0) + (f[12] ?? 0)) as number) / 100;
  } catch {
    return undefined;
  }
}

/** Samples the CPU of the backends serving `database` until stopped: the last value seen of each. */
function sampleBackends(db: ReturnType<typeof createPostgresDatabase>, database: string) {
  const seen = new Map<number, number>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const r = await db.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
      for (const { pid } of r.rows) {
        const s = cpuSeconds(pid);
        if (s !== undefined) seen.set(pid, s);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return seen.size ? [...seen.values()].reduce((a, b) => a + b, 0) : undefined;
  };
}

async function writeFile(path: string): Promise<void> {
  const salt = 'benchsalt0123';
  const hashes = [
    await bcrypt.hash('bench password', 10),
    await bcrypt.hash('bench password', 12),
    `pbkdf2_sha256$600000$${salt}$${pbkdf2Sync('bench password', salt, 600_000, 32, 'sha256').toString('base64')}`,
    await argon2.hash('bench password', { type: argon2.argon2id }),
  ];
  const out = createWriteStream(path);
  for (let i = 0; i < n; i++) {
    const withRole = (i % 1000) / 1000 < roleShare && { roles: [ROLE], scopes: ['profile', `bench:${i % 10}`] };
    const line = `${JSON.stringify({ username: `bench-user-${i}`, password_hash: hashes[i % hashes.length], ...withRole })}\n`;
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

const database = await prepareDatabase();
const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-import-'));
try {
  const file = join(dir, 'users.jsonl');
  await writeFile(file);
  log(`${n} lines, ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB; database ${database.label}`);
  const db = createPostgresDatabase(database.url);
  await migrate(db);
  await db.query('insert into roles (name, scopes) values ($1, $2)', [ROLE, ['photos:read']]);
  const backends = sampleBackends(db, new URL(database.url).pathname.slice(1));
  const childrenBefore = cpuSeconds('self', true);
  const start = performance.now();
  const run = spawn(process.execPath, [SIGIL, 'users', 'import', '--file', file, '--json'], {
    env: { ...process.env, DATABASE_URL: database.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  run.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  run.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => run.on('close', resolve));
  const seconds = (performance.now() - start) / 1000;
  const cliCpu = (cpuSeconds('self', true) ?? Number.NaN) - (childrenBefore ?? Number.NaN);
  const postgresCpu = await backends();
  await db.close();
  if (status !== 0) throw new Error(`import failed (${status}): ${stderr}`);
  const summary = JSON.parse(stdout) as { imported: number };
  if (summary.imported !== n) throw new Error(`imported ${summary.imported} of ${n}`);
  const rate = Math.round(n / seconds);
  const perUser = (s: number | undefined) => (s === undefined || Number.isNaN(s) ? null : Number(((s * 1e6) / n).toFixed(1)));
  const result = {
    users: n,
    with_roles: roleShare,
    seconds: Number(seconds.toFixed(2)),
    users_per_second: rate,
    target: 20_000,
    met: rate >= 20_000,
    cpu_us_per_user: { cli: perUser(cliCpu), postgres_backend: perUser(postgresCpu) },
    load_average: loadavg().map((x) => Number(x.toFixed(2))),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await database.drop();
}

// `npm run bench:import`: how fast `sigil users import` brings users in with existing hashes, on
// PostgreSQL (issue 16's target: at least 20,000 users/s on this 2-core machine). A file of
// BENCH_IMPORT_USERS lines (default 200,000; bcrypt, Django PBKDF2 and argon2id hashes, a few
// distinct ones repeated, as verifying them is not part of an import) is written to a temporary
// folder, then imported by the CLI as an operator would run it, into a fresh database that is
// dropped afterwards. The time includes the CLI's start and its migration check.
import { spawnSync } from 'node:child_process';
import { pbkdf2Sync } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
    const line = `${JSON.stringify({ username: `bench-user-${i}`, password_hash: hashes[i % hashes.length] })}\n`;
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
  await db.close();
  const start = performance.now();
  const run = spawnSync(process.execPath, [SIGIL, 'users', 'import', '--file', file, '--json'], {
    env: { ...process.env, DATABASE_URL: database.url },
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  const seconds = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(`import failed (${run.status}): ${run.stderr}`);
  const summary = JSON.parse(run.stdout) as { imported: number };
  if (summary.imported !== n) throw new Error(`imported ${summary.imported} of ${n}`);
  const rate = Math.round(n / seconds);
  const result = { users: n, seconds: Number(seconds.toFixed(2)), users_per_second: rate, target: 20_000, met: rate >= 20_000 };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await database.drop();
}

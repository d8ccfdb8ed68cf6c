import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable, Writable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import { runSigil } from '../../src/cli/main.js';
import { parseConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { pgliteTemplatePath, TEST_DATABASE_URL, templateExists } from './template.js';

export const SIGIL_BIN = fileURLToPath(new URL('../../bin/sigil.js', import.meta.url));

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child process: this one's, less every Sigil setting, plus `env`. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(SIGIL_|DATABASE_URL$|TEST_DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$)/.test(k),
    ),
  );
  return { ...base, ...env };
}

/**
 * Runs `sigil …` as a user would: a process of its own (bin/sigil.js, config from its environment),
 * in a folder of its own (so no stray .env is read). A process start costs about a second on the
 * embedded database; tests of the commands themselves use a CliSession.
 */
export function runCli(args: string[], o: { env: Record<string, string>; input?: string; cwd?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SIGIL_BIN, ...args], {
      env: childEnv(o.env),
      cwd: o.cwd ?? tmpdir(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}

/** A temp data folder for the embedded database, seeded from the migrated template when there is one. */
export async function createDataDir(t: Teardown): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-data-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (await templateExists()) {
    mkdirSync(join(dir, 'pglite'));
    const db = await PGlite.create({
      dataDir: join(dir, 'pglite'),
      loadDataDir: new Blob([readFileSync(pgliteTemplatePath())]),
    });
    await db.close();
  }
  return dir;
}

/**
 * Where the CLI (or a server process) under test keeps its data: a fresh PostgreSQL database
 * when TEST_DATABASE_URL is set, else a fresh embedded data folder.
 */
export async function createCliTarget(t: Teardown): Promise<{ env: Record<string, string>; database?: TestDatabase }> {
  if (TEST_DATABASE_URL) {
    const database = await createTestDatabase(t);
    // With DATABASE_URL, Sigil needs the key-encryption key from the environment.
    const kek = randomBytes(32).toString('base64');
    return { env: { DATABASE_URL: database.url ?? '', SIGIL_KEY_ENCRYPTION_KEY: kek }, database };
  }
  return { env: { SIGIL_DATA_DIR: await createDataDir(t) } };
}

export function writeEnvFile(dir: string, content: string): void {
  writeFileSync(join(dir, '.env'), content);
}

export interface CliSession {
  /** The settings every command of the session gets (a data folder; on PostgreSQL its URL and key). */
  env: Record<string, string>;
  database: TestDatabase;
  /** `sigil …` in this process, on the session's database: the same program the binary runs. */
  cli(args: string[], o?: { input?: string; env?: Record<string, string> }): Promise<CliResult>;
}

/**
 * A database held open for many commands, run in-process. Each command still parses its own
 * config and runs the migrations check, as a process would; only the process start and the
 * database's open and close are shared.
 */
export async function createCliSession(t: Teardown, o: { migrated?: boolean } = {}): Promise<CliSession> {
  const database = await createTestDatabase(t, o);
  const dataDir = mkdtempSync(join(tmpdir(), 'sigil-cli-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const env: Record<string, string> = { SIGIL_DATA_DIR: dataDir };
  if (database.url) {
    env.DATABASE_URL = database.url;
    env.SIGIL_KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64');
  }
  // The test's teardown closes the database, not each command.
  const held = { ...database.db, close: async () => {} };
  return {
    env,
    database,
    async cli(args, { input, env: extra } = {}) {
      let stdout = '';
      let stderr = '';
      const code = await runSigil(args, {
        config: () => parseConfig({ ...env, ...extra }),
        openDatabase: async () => held,
        io: {
          stdin: Readable.from(input === undefined ? [] : [Buffer.from(input)]),
          stdout: { write: (s: string) => (stdout += s) },
          stderr: new Writable({
            write(chunk, _encoding, done) {
              stderr += chunk;
              done();
            },
          }),
        },
      });
      return { code, stdout, stderr };
    },
  };
}

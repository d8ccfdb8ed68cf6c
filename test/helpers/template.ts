// A migrated template database, made once per test run and cloned by every test file, so a test
// file starts from a fresh database in about a second instead of migrating one from scratch.
// test/helpers/before.ts makes it and after.ts removes it; both run in tap's runner process,
// whose pid (the test files' parent) names the run.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { createPostgresDatabase, wrapPglite } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';

// Read here only: which database the suite runs on is the test harness's setting, not Sigil's.
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

export function runId(pid = process.ppid): string {
  return `${pid}`;
}

export const templateName = (run = runId()) => `sigil_tpl_${run}`;
export const pgliteTemplatePath = (run = runId()) => join(tmpdir(), `sigil-test-${run}`, 'template.tar.gz');

export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createTemplate(run: string): Promise<void> {
  if (TEST_DATABASE_URL) {
    const name = templateName(run);
    await adminQuery(`drop database if exists ${name}`);
    await adminQuery(`create database ${name}`);
    const db = createPostgresDatabase(databaseUrl(TEST_DATABASE_URL, name), { poolSize: 1 });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
  } else {
    const db = wrapPglite(await PGlite.create());
    await migrate(db);
    const dump = await db.pglite.dumpDataDir('gzip');
    const path = pgliteTemplatePath(run);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(`${path}.tmp`, Buffer.from(await dump.arrayBuffer()));
    renameSync(`${path}.tmp`, path);
    await db.close();
  }
}

export async function dropTemplate(run: string): Promise<void> {
  if (TEST_DATABASE_URL) await adminQuery(`drop database if exists ${templateName(run)} with (force)`);
  rmSync(join(pgliteTemplatePath(run), '..'), { recursive: true, force: true });
}

export async function templateExists(): Promise<boolean> {
  if (!TEST_DATABASE_URL) return existsSync(pgliteTemplatePath());
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const r = await client.query('select 1 from pg_database where datname = $1', [templateName()]);
    return r.rows.length > 0;
  } finally {
    await client.end();
  }
}

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { createPostgresDatabase, type Database, wrapPglite } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import {
  adminQuery,
  databaseUrl,
  pgliteTemplatePath,
  TEST_DATABASE_URL,
  templateExists,
  templateName,
} from './template.js';

export { TEST_DATABASE_URL };
export const ON_POSTGRES = TEST_DATABASE_URL !== undefined;

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface TestDatabase {
  db: Database;
  /** A connection URL for other processes (PostgreSQL only). */
  url: string | undefined;
}

let hasTemplate: Promise<boolean> | undefined;

/**
 * A fresh, migrated database of its own for one test (file), dropped at teardown.
 * PostgreSQL when TEST_DATABASE_URL is set, else an in-memory PGlite.
 */
export async function createTestDatabase(t: Teardown, { migrated = true } = {}): Promise<TestDatabase> {
  hasTemplate ??= templateExists();
  const fromTemplate = migrated && (await hasTemplate);
  if (TEST_DATABASE_URL) {
    const name = `sigil_test_${randomBytes(6).toString('hex')}`;
    await adminQuery(`create database ${name}${fromTemplate ? ` template ${templateName()}` : ''}`);
    const url = databaseUrl(TEST_DATABASE_URL, name);
    const db = createPostgresDatabase(url, { poolSize: 10 });
    t.teardown(async () => {
      await db.close();
      await adminQuery(`drop database if exists ${name} with (force)`);
    });
    if (migrated && !fromTemplate) await migrate(db);
    return { db, url };
  }
  const pglite = fromTemplate
    ? await PGlite.create({ loadDataDir: new Blob([readFileSync(pgliteTemplatePath())]) })
    : await PGlite.create();
  const db = wrapPglite(pglite);
  t.teardown(() => db.close());
  if (migrated && !fromTemplate) await migrate(db);
  return { db, url: undefined };
}

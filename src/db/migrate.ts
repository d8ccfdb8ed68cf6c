import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import Postgrator from 'postgrator';
import type { Database } from './database.js';
import { LOCKS } from './locks.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** The version the migrations folder brings the schema to. */
export function latestMigrationVersion(dir = MIGRATIONS_DIR): number {
  const versions = readdirSync(dir)
    .map((f) => /^(\d+)\.do\./.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
  return versions.length ? Math.max(...versions) : 0;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Applies pending migrations. Everything runs in one transaction that first takes an advisory
 * lock: instances starting together apply each migration once, and a failing migration leaves
 * the schema as it was.
 */
export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  let current: string | undefined;
  try {
    return await db.transaction(async (tx) => {
      // Waiting for another instance's migration, or a long migration, is not a hung request.
      await tx.query('set local statement_timeout = 0');
      await tx.query('select pg_advisory_xact_lock($1)', [LOCKS.migrate]);
      const postgrator = new Postgrator({
        migrationPattern: `${dir}/*.sql`,
        driver: 'pg',
        schemaTable: 'schemaversion',
        validateChecksums: true,
        execQuery: (sql) => tx.query(sql),
        execSqlScript: (sql) => tx.exec(sql),
      });
      postgrator.on('migration-started', (m: { filename: string }) => {
        current = basename(m.filename);
      });
      const applied = await postgrator.migrate();
      return applied.map((m) => basename(m.filename));
    });
  } catch (err) {
    const what = current ? `migration ${current} failed` : 'migrating the database failed';
    throw new MigrationError(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** The schema version applied to the database (0 before the first migration). */
export async function appliedMigrationVersion(db: Database): Promise<number> {
  const exists = await db.query<{ ok: boolean }>("select to_regclass('schemaversion') is not null as ok");
  if (!exists.rows[0]?.ok) return 0;
  const r = await db.query<{ v: number | null }>('select max(version)::int as v from schemaversion');
  return r.rows[0]?.v ?? 0;
}

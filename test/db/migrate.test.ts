import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { appliedMigrationVersion, latestMigrationVersion, MIGRATIONS_DIR, MigrationError, migrate } from '../../src/db/migrate.js';
import { createTestDatabase } from '../helpers/db.js';

function migrationsWith(extra: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-migrations-'));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) writeFileSync(join(dir, name), sql);
  return dir;
}

t.test('migrate applies every migration once and is idempotent', async (t) => {
  const { db } = await createTestDatabase(t, { migrated: false });
  t.equal(await appliedMigrationVersion(db), 0);
  const applied = await migrate(db);
  t.ok(applied.length >= 1);
  t.equal(applied[0], '001.do.users-and-clients.sql');
  t.equal(await appliedMigrationVersion(db), latestMigrationVersion());
  t.same(await migrate(db), [], 'second run applies nothing');
});

t.test('a failing migration fails loudly and leaves the schema as it was', async (t) => {
  const { db } = await createTestDatabase(t, { migrated: false });
  const dir = migrationsWith({
    '900.do.half-done.sql': 'create table half_done (id int);\ninsert into nowhere values (1);',
  });
  await t.rejects(migrate(db, dir), {
    name: 'MigrationError',
    message: /migration 900\.do\.half-done\.sql failed: .*nowhere/,
  });
  t.equal(await appliedMigrationVersion(db), 0, 'nothing recorded as applied');
  const r = await db.query<{ t: string | null }>("select to_regclass('half_done')::text as t");
  t.equal(r.rows[0]?.t, null, 'the half-done table was rolled back');
  const users = await db.query<{ t: string | null }>("select to_regclass('users')::text as t");
  t.equal(users.rows[0]?.t, null, 'earlier migrations of the failed run were rolled back too');
});

t.test('an edited migration that was already applied is refused', async (t) => {
  const { db } = await createTestDatabase(t);
  const dir = migrationsWith({ '001.do.users-and-clients.sql': 'select 1;' });
  await t.rejects(migrate(db, dir), MigrationError);
});

t.test('instances migrating at once apply each migration exactly once', async (t) => {
  const { db } = await createTestDatabase(t, { migrated: false });
  const results = await Promise.all([migrate(db), migrate(db), migrate(db)]);
  const total = results.reduce((n, r) => n + r.length, 0);
  t.equal(total, results.find((r) => r.length > 0)?.length, 'one run applied them, the others found nothing to do');
  const versions = await db.query<{ version: number }>('select version::int as version from schemaversion order by version');
  t.same(new Set(versions.rows.map((r) => r.version)).size, versions.rows.length, 'no version recorded twice');
});

// Builds issue 16's scale dataset in a migrated PostgreSQL database: users through the import
// service behind `sigil users import` (a generated JSON Lines stream, one shared argon2id hash made
// with Sigil's configured parameters, so a login needs no rehash), the other tables by bulk SQL
// (dataset-sql.ts). Then ANALYZE: PostgreSQL here runs with autovacuum off, so nothing else would.
//
// Speed on 2 cores: the users import and the refresh tokens (no foreign key) load at once on two
// connections; the secondary indexes of the bulk tables are dropped first and created again after
// the load, from their own definitions as the migrations left them (pg_indexes), since one sorted
// build is far cheaper than millions of random inserts. Primary keys, unique indexes, checks and
// foreign keys stay on throughout.
import { Readable } from 'node:stream';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { createPasswordHasher } from '../../src/users/passwords.js';
import { createUserImporter } from '../../src/users/user-import.js';
import {
  type BulkStep,
  clientsSql,
  familiesSql,
  loginFailuresSql,
  refreshTokensSql,
  revocationsSql,
  SCALE_TABLES,
  SCALE_USER_PASSWORD,
  type ScaleSizes,
  scaleUser,
} from './dataset-sql.js';

export interface BuildReport {
  sizes: ScaleSizes;
  seconds: number;
  /** Seconds per step, in the order they finished. */
  steps: Record<string, number>;
  /** Rows per table after the build, as ANALYZE counted them. */
  rows: Record<string, number>;
  databaseBytes: number;
}

// Bulk tables whose non-constraint indexes are rebuilt after the load (users' indexes are its
// primary key and the unique name index, which the import relies on).
const REBUILT = ['refresh_tokens', 'refresh_token_families', 'revoked_access_tokens', 'login_attempts'];

function* userLines(n: number, passwordHash: string) {
  // A few thousand lines per chunk: the stream is read as the import writes, in constant memory.
  for (let start = 0; start < n; start += 4096) {
    let chunk = '';
    for (let i = start; i < Math.min(n, start + 4096); i++) chunk += `{"username":"${scaleUser(i)}","password_hash":"${passwordHash}"}\n`;
    yield chunk;
  }
}

export async function buildScaleDataset(db: Database, sizes: ScaleSizes, argon2: Config['argon2'], log: (msg: string) => void): Promise<BuildReport> {
  const started = performance.now();
  const steps: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await fn();
    steps[name] = Number(((performance.now() - t0) / 1000).toFixed(1));
    log(`scale dataset: ${name} in ${steps[name]} s`);
    return result;
  };
  // The bulk statements run in transactions of their own, each on one connection with settings
  // for a load (its own session only: the server's settings are left alone).
  const bulk = (step: BulkStep) =>
    timed(step.table, () =>
      db.transaction(async (tx) => {
        await tx.query("set local synchronous_commit = off");
        await tx.query("set local maintenance_work_mem = '256MB'");
        await tx.query('set local statement_timeout = 0');
        await tx.query(step.sql);
      }),
    );

  const indexes = (
    await db.query<{ indexname: string; indexdef: string }>(
      `select i.indexname, i.indexdef from pg_indexes i
       where i.schemaname = current_schema() and i.tablename = any($1::text[])
         and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`,
      [REBUILT],
    )
  ).rows;
  for (const i of indexes) await db.query(`drop index ${i.indexname}`);

  const hasher = createPasswordHasher(argon2);
  const passwordHash = await hasher.hash(SCALE_USER_PASSWORD);
  const importUsers = timed('users (import service)', async () => {
    const summary = await createUserImporter(db, hasher).run(Readable.from(userLines(sizes.users, passwordHash)), { onConflict: 'fail' });
    if (summary.imported !== sizes.users) throw new Error(`imported ${summary.imported} of ${sizes.users} users: ${JSON.stringify(summary.rejections.slice(0, 3))}`);
  });
  const others = (async () => {
    await bulk(clientsSql(sizes));
    await bulk(refreshTokensSql(sizes));
    await bulk(revocationsSql(sizes));
    await bulk(loginFailuresSql(sizes));
  })();
  await Promise.all([importUsers, others]);
  await bulk(familiesSql(sizes));

  await timed('indexes', () =>
    Promise.all(
      // Two at a time: one per core.
      [0, 1].map(async (lane) => {
        for (const i of indexes.filter((_, n) => n % 2 === lane)) {
          await db.transaction(async (tx) => {
            await tx.query("set local maintenance_work_mem = '256MB'");
            await tx.query('set local statement_timeout = 0');
            await tx.query(i.indexdef);
          });
        }
      }),
    ),
  );
  await timed('analyze', () =>
    db.transaction(async (tx) => {
      await tx.query('set local statement_timeout = 0');
      await tx.query(`analyze ${SCALE_TABLES.join(', ')}`);
    }),
  );
  const rows = Object.fromEntries(
    (await db.query<{ relname: string; n: number }>('select relname, reltuples::bigint::float8 as n from pg_class where relname = any($1::text[])', [SCALE_TABLES])).rows.map(
      (r) => [r.relname, r.n],
    ),
  );
  const size = await db.query<{ bytes: number }>('select pg_database_size(current_database())::float8 as bytes');
  return { sizes, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), steps, rows, databaseBytes: size.rows[0]?.bytes ?? 0 };
}

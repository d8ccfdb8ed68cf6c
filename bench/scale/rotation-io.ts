// `DATABASE_URL=… node --import tsx bench/scale/rotation-io.ts`: where a refresh rotation's
// PostgreSQL work goes on a dataset built by `bench/scale/build.ts` with BENCH_SCALE_KEEP=1 (any
// BENCH_SCALE_FACTOR; the same factor here). It rotates BENCH_ROTATIONS (default 20,000) random
// live families through Sigil's refresh-token store, 50 at a time as the bench's connections do
// (so they share batched statements), and prints, per rotation: shared-buffer hits and reads (the
// hit rate), WAL records, full-page images and bytes; and the checkpoints the run set off. Then one batch of 30 under
// EXPLAIN (ANALYZE, BUFFERS, WAL), rolled back, for which plan node reads which pages.
// The cluster's counters (pg_stat_wal) count everything the cluster does: run it on a quiet one.
import type { Database, Queryable } from '../../src/db/database.js';
import { createPostgresDatabase } from '../../src/db/database.js';
import { createRefreshTokenStore } from '../../src/tokens/refresh-tokens.js';
import { families, liveFamily, scaleClient, scaleRefreshToken, TOKENS_PER_FAMILY } from './dataset-sql.js';
import { scaledSizes } from './sizes.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL: a database built by bench/scale/build.ts with BENCH_SCALE_KEEP=1');
const sizes = scaledSizes();
const rotations = Number(process.env.BENCH_ROTATIONS ?? 20_000);
const CONCURRENCY = 50;
const EXPLAINED_BATCH = 30;

interface Counters {
  hit: number;
  read: number;
  walRecords: number;
  walFpi: number;
  walBytes: number;
  checkpoints: number;
}

async function counters(db: Queryable): Promise<Counters> {
  // An idle backend sends its counters within PGSTAT_IDLE_INTERVAL (10 s, PostgreSQL 15): the
  // caller waits that long before reading.
  const r = await db.query<{ hit: string; read: string; wal_records: string; wal_fpi: string; wal_bytes: string; checkpoints: string }>(
    `select d.blks_hit as hit, d.blks_read as read, w.wal_records, w.wal_fpi, w.wal_bytes,
            b.checkpoints_timed + b.checkpoints_req as checkpoints
     from pg_stat_database d, pg_stat_wal w, pg_stat_bgwriter b where d.datname = current_database()`,
  );
  const row = r.rows[0];
  if (!row) throw new Error('no statistics for this database');
  return { hit: +row.hit, read: +row.read, walRecords: +row.wal_records, walFpi: +row.wal_fpi, walBytes: +row.wal_bytes, checkpoints: +row.checkpoints };
}

/** The live families, in a random order that skips those an earlier run of this script spent. */
function order(n: number, seed: number): number[] {
  const all: number[] = [];
  for (let i = 0; i < families(sizes); i++) if (liveFamily(i)) all.push(i);
  let s = seed;
  for (let i = all.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [all[i], all[j]] = [all[j] as number, all[i] as number];
  }
  return all.slice(0, n);
}

/** `db`, explaining the first batched rotation of at least `size` tokens in a transaction it rolls back. */
function explainingOnce(db: Database, size: number) {
  let plan: string | undefined;
  const wrapped: Database = {
    ...db,
    query: async (sql: string, params?: unknown[]) => {
      if (plan === undefined && /with input as/.test(sql) && ((params?.[0] as unknown[]) ?? []).length >= size) {
        plan = '';
        await db
          .transaction(async (tx) => {
            const r = await tx.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers, wal, timing off) ${sql}`, params);
            plan = r.rows.map((row) => row['QUERY PLAN']).join('\n');
            throw new Error('rollback');
          })
          .catch(() => {});
      }
      return db.query(sql, params);
    },
  } as Database;
  return { db: wrapped, plan: () => plan };
}

const db = createPostgresDatabase(url, { poolSize: 10 });
try {
  // The tokens a previous run rotated are spent: start from a seed of this run's own.
  const seed = Number(process.env.BENCH_SEED ?? Date.now() % 100_000);
  // Only families whose last token is still live: a spent one would take the reuse path (a
  // transaction that ends the family), which is not what is measured here.
  const unspent = await db.query<{ i: number }>(
    `select i from unnest($1::int[]) with ordinality as o(i, n)
     where exists (select 1 from refresh_tokens
                   where token_hash = sha256(convert_to('scale-refresh-' || i || '-' || $2, 'UTF8')) and used_at is null)
     order by n`,
    [order(rotations * 2 + EXPLAINED_BATCH, seed), TOKENS_PER_FAMILY - 1],
  );
  const live = unspent.rows.map((r) => r.i);
  const picked = live.slice(0, rotations);
  const sample = live.slice(rotations, rotations + EXPLAINED_BATCH);
  const store = createRefreshTokenStore(db, { idleSeconds: 86_400, absoluteSeconds: 30 * 86_400, graceSeconds: 0 });
  const warm = picked.splice(0, 2_000);
  const rotate = async (s: ReturnType<typeof createRefreshTokenStore>, list: number[]) => {
    let next = 0;
    let ok = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < list.length) {
          const f = list[next++] as number;
          if ((await s.rotate(scaleRefreshToken(f), scaleClient(f % sizes.clients))).ok) ok++;
        }
      }),
    );
    return ok;
  };
  const settle = () => new Promise((r) => setTimeout(r, 11_000));
  await rotate(store, warm);
  await settle();
  const before = await counters(db);
  const started = performance.now();
  const ok = await rotate(store, picked);
  const seconds = (performance.now() - started) / 1000;
  await settle();
  const after = await counters(db);
  const per = (k: keyof Counters) => (after[k] - before[k]) / ok;
  const hit = after.hit - before.hit;
  const read = after.read - before.read;
  const sb = await db.query<{ setting: string; unit: string }>("select setting, unit from pg_settings where name = 'shared_buffers'");
  const size = await db.query<{ heap: string; pkey: string; family_idx: string }>(
    `select pg_size_pretty(pg_relation_size('refresh_tokens')) as heap,
            pg_size_pretty(pg_relation_size('refresh_tokens_pkey')) as pkey,
            pg_size_pretty(pg_relation_size('refresh_tokens_family_idx')) as family_idx`,
  );
  const explained = explainingOnce(db, EXPLAINED_BATCH);
  const explainStore = createRefreshTokenStore(explained.db, { idleSeconds: 86_400, absoluteSeconds: 30 * 86_400, graceSeconds: 0 });
  await Promise.all(sample.map((f) => explainStore.rotate(scaleRefreshToken(f), scaleClient(f % sizes.clients))));
  const report = {
    sizes,
    shared_buffers: `${sb.rows[0]?.setting} × ${sb.rows[0]?.unit}`,
    refresh_tokens: size.rows[0],
    rotations: ok,
    rotations_per_s: Math.round(ok / seconds),
    checkpoints: after.checkpoints - before.checkpoints,
    per_rotation: {
      buffer_hits: +per('hit').toFixed(1),
      buffer_reads: +per('read').toFixed(2),
      hit_rate: +(hit / (hit + read)).toFixed(4),
      wal_records: +per('walRecords').toFixed(1),
      wal_full_page_images: +per('walFpi').toFixed(2),
      wal_bytes: Math.round(per('walBytes')),
    },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\nOne batch of ${EXPLAINED_BATCH}, rolled back:\n${explained.plan()}\n`);
} finally {
  await db.close();
}

// `DATABASE_URL=… node --import tsx bench/scale/rotation-io.ts`: where a refresh rotation's
// PostgreSQL work goes on a dataset built by `bench/scale/build.ts` with BENCH_SCALE_KEEP=1 (any
// BENCH_SCALE_FACTOR; the same factor here). It rotates BENCH_ROTATIONS (default 18,000, after
// 2,000 to warm up) random live families through Sigil's refresh-token store, 50 at a time as the bench's connections do
// (so they share batched statements), and prints, per rotation: shared-buffer hits and reads (the
// hit rate), WAL records, full-page images and bytes; and the checkpoints the run set off. Then one batch of 30 under
// EXPLAIN (ANALYZE, BUFFERS, WAL), rolled back, for which plan node reads which pages.
// The cluster's counters (pg_stat_wal) count everything the cluster does: run it on a quiet one.
import type { Queryable } from '../../src/db/database.js';
import { createPostgresDatabase } from '../../src/db/database.js';
import { createRefreshTokenStore } from '../../src/tokens/refresh-tokens.js';
import { mapLimit } from '../lib/oauth.js';
import { explaining } from './explaining.js';
import { families, liveFamily, scaleClient, scaleRefreshToken, TOKENS_PER_FAMILY } from './dataset-sql.js';
import { scaledSizes } from './sizes.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL: a database built by bench/scale/build.ts with BENCH_SCALE_KEEP=1');
const sizes = scaledSizes();
const rotations = Number(process.env.BENCH_ROTATIONS ?? 18_000);
const WARM_UP = 2_000;
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
    `select d.blks_hit as hit, d.blks_read as read, w.wal_records, w.wal_fpi, w.wal_bytes, ${await checkpointsColumn(db)} as checkpoints
     from pg_stat_database d, pg_stat_wal w where d.datname = current_database()`,
  );
  const row = r.rows[0];
  if (!row) throw new Error('no statistics for this database');
  return { hit: +row.hit, read: +row.read, walRecords: +row.wal_records, walFpi: +row.wal_fpi, walBytes: +row.wal_bytes, checkpoints: +row.checkpoints };
}

// PostgreSQL 17 moved the checkpoint counts from pg_stat_bgwriter to pg_stat_checkpointer.
async function checkpointsColumn(db: Queryable): Promise<string> {
  const v = await db.query<{ n: number }>("select current_setting('server_version_num')::int as n");
  return (v.rows[0]?.n ?? 0) >= 170_000
    ? '(select num_timed + num_requested from pg_stat_checkpointer)'
    : '(select checkpoints_timed + checkpoints_req from pg_stat_bgwriter)';
}

/** `n` of the dataset's live families (neither expired nor revoked when built), in a random order. */
function randomFamilies(n: number): number[] {
  const all: number[] = [];
  for (let i = 0; i < families(sizes); i++) if (liveFamily(i)) all.push(i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j] as number, all[i] as number];
  }
  return all.slice(0, n);
}

const db = createPostgresDatabase(url, { poolSize: 10 });
try {
  // Only families whose last token is still live: one that an earlier run rotated, or that has
  // expired since the build (a day), would take the transaction path (reuse, expiry), which is not
  // what is measured here.
  const wanted = WARM_UP + rotations + EXPLAINED_BATCH;
  const unspent = await db.query<{ i: number }>(
    `select i from unnest($1::int[]) with ordinality as o(i, n)
     where (select max(generation) from refresh_tokens where family_id = md5('scale-family-' || i)::uuid) = $2
       and (select expires_at > now() from refresh_tokens where family_id = md5('scale-family-' || i)::uuid and generation = $2)
     order by n`,
    [randomFamilies(wanted * 2), TOKENS_PER_FAMILY - 1],
  );
  const live = unspent.rows.map((r) => r.i);
  if (live.length < wanted) {
    throw new Error(`${live.length} live families found, ${wanted} needed: build the dataset again (bench/scale/build.ts)`);
  }
  const warm = live.slice(0, WARM_UP);
  const picked = live.slice(WARM_UP, WARM_UP + rotations);
  const sample = live.slice(WARM_UP + rotations, wanted);
  const store = createRefreshTokenStore(db, { idleSeconds: 86_400, absoluteSeconds: 30 * 86_400, graceSeconds: 0 });
  const rotate = async (s: ReturnType<typeof createRefreshTokenStore>, list: number[]) => {
    const results = await mapLimit(list.length, CONCURRENCY, (i) => {
      const f = list[i] as number;
      return s.rotate(scaleRefreshToken(f), scaleClient(f % sizes.clients));
    });
    return results.filter((r) => r.ok).length;
  };
  const settle = () => new Promise((r) => setTimeout(r, 11_000));
  await rotate(store, warm);
  await settle();
  const before = await counters(db);
  const started = performance.now();
  const ok = await rotate(store, picked);
  if (ok < rotations) throw new Error(`${rotations - ok} of ${rotations} rotations refused: is another process rotating these families?`);
  const seconds = (performance.now() - started) / 1000;
  await settle();
  const after = await counters(db);
  const per = (k: keyof Counters) => (after[k] - before[k]) / ok;
  const hit = after.hit - before.hit;
  const read = after.read - before.read;
  const sb = await db.query<{ setting: string; unit: string }>("select setting, unit from pg_settings where name = 'shared_buffers'");
  const size = await db.query<{ heap: string; family_generation_key: string; indexes_of_the_rotation: string }>(
    `select pg_size_pretty(pg_relation_size('refresh_tokens')) as heap,
            pg_size_pretty(pg_relation_size('refresh_tokens_family_generation_key')) as family_generation_key,
            (select pg_size_pretty(sum(pg_relation_size(i.indexrelid))) from pg_index i
             where i.indrelid = any (array['refresh_tokens', 'refresh_token_families', 'users', 'clients']::regclass[]))
              as indexes_of_the_rotation`,
  );
  const explained = explaining(db, /with input as/, {
    options: 'analyze, buffers, wal, timing off',
    // The batch of the sample, not a smaller one the batcher happened to send first.
    accept: (params) => ((params?.[0] as unknown[] | undefined)?.length ?? 0) >= EXPLAINED_BATCH,
  });
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
  const plan = explained.found.plan;
  if (!plan) throw new Error('the batch to explain never reached the rotation statement');
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\nOne batch of ${EXPLAINED_BATCH}, rolled back:\n${plan}\n`);
} finally {
  await db.close();
}

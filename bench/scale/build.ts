// `node --import tsx bench/scale/build.ts`: builds the scale dataset alone in a fresh database,
// prints how long it took as JSON, and drops the database (BENCH_SCALE_KEEP=1 keeps it and prints
// its URL). BENCH_SCALE_FACTOR (default 1) scales every size, e.g. 0.01 for a quick try.
import { parseConfig } from '../../src/config.js';
import { createPostgresDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareDatabase } from '../lib/database.js';
import { buildScaleDataset } from './dataset.js';
import { scaledSizes } from './sizes.js';

const log = (msg: string) => process.stderr.write(`[bench:scale] ${msg}\n`);
const database = await prepareDatabase();
try {
  const db = createPostgresDatabase(database.url, { poolSize: 3, statementTimeoutMs: 3_600_000 });
  await migrate(db);
  const report = await buildScaleDataset(db, scaledSizes(), parseConfig(process.env).argon2, log);
  await db.close();
  process.stdout.write(`${JSON.stringify({ database: database.label, ...report })}\n`);
} finally {
  if (process.env.BENCH_SCALE_KEEP === '1') log(`kept ${database.url}`);
  else await database.drop();
}

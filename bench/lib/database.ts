// The PostgreSQL database Sigil runs on during the bench: DATABASE_URL when the environment sets
// one (used as it is), else a fresh database on the local server, dropped at the end.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const LOCAL_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  url: string;
  /** What to print: the URL without its password. */
  label: string;
  /** Drops the database when the bench created it; no-op otherwise. */
  drop(): Promise<void>;
}

const redact = (url: string) => {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
};

async function admin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * DATABASE_URL wins, so the bench can run against any PostgreSQL (its migrations are applied and
 * bench clients and users are added under random names). Otherwise BENCH_ADMIN_DATABASE_URL (default:
 * the local server's postgres database) creates `sigil_bench_<random>`, which `drop()` removes.
 */
export async function prepareDatabase(env: NodeJS.ProcessEnv = process.env): Promise<BenchDatabase> {
  if (env.DATABASE_URL) {
    return { url: env.DATABASE_URL, label: `${redact(env.DATABASE_URL)} (DATABASE_URL)`, drop: async () => {} };
  }
  const adminUrl = env.BENCH_ADMIN_DATABASE_URL || LOCAL_ADMIN_URL;
  const name = `sigil_bench_${randomBytes(4).toString('hex')}`;
  try {
    await admin(adminUrl, (c) => c.query(`create database ${name}`));
  } catch (err) {
    throw new Error(
      `cannot create a bench database through ${redact(adminUrl)} (${(err as Error).message}); ` +
        'start PostgreSQL there, or set DATABASE_URL or BENCH_ADMIN_DATABASE_URL',
    );
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    label: `${redact(url.toString())} (created for this run, dropped after it)`,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      // WITH (FORCE): a connection Sigil left behind must not keep the database alive (PostgreSQL 13+).
      await admin(adminUrl, (c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

import type { PGlite, Transaction } from '@electric-sql/pglite';
import pg from 'pg';

/** What repositories need: one parameterized statement at a time. */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/** A transaction also runs multi-statement scripts (migrations). */
export interface TransactionScope extends Queryable {
  exec(script: string): Promise<void>;
}

/**
 * The database behind Sigil: a `pg` pool on PostgreSQL, or the embedded PGlite.
 * Domain code sees only this interface and never knows which one it has.
 */
export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  transaction<T>(fn: (tx: TransactionScope) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  poolSize?: number;
  /** Host/port/path overrides, e.g. a unix socket directory. */
  connection?: pg.PoolConfig;
}

export function createPostgresDatabase(url: string | undefined, o: PostgresOptions = {}): Database & { pool: pg.Pool } {
  const pool = new pg.Pool({
    ...(url !== undefined && { connectionString: url }),
    max: o.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    ...o.connection,
  });
  // An idle client losing its connection (server restart) must not crash the process;
  // the pool discards it and the next query opens a new one.
  pool.on('error', () => {});
  return {
    kind: 'postgres',
    pool,
    query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await pool.query(sql, params)).rows as R[] }),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await fn({
          query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await client.query(sql, params)).rows as R[] }),
          exec: async (script) => {
            await client.query(script);
          },
        });
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

export function wrapPglite(db: PGlite, close: () => Promise<void> = () => db.close()): Database & { pglite: PGlite } {
  const scope = (tx: PGlite | Transaction): TransactionScope => ({
    query: async (sql, params) => tx.query(sql, params),
    exec: async (script) => {
      await tx.exec(script);
    },
  });
  return {
    kind: 'pglite',
    pglite: db,
    query: async (sql, params) => db.query(sql, params),
    transaction: (fn) => db.transaction((tx) => fn(scope(tx))),
    close,
  };
}

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
  /**
   * Calls `handler` for each NOTIFY on `channel` (a plain lower-case identifier) until the returned
   * function is called. Notifications sent while the connection was down are lost, so after a
   * reconnect the handler is called once with `undefined`: "something may have changed".
   * PGlite: only NOTIFY from this process is delivered (not from clients of its socket).
   */
  listen(channel: string, handler: (payload: string | undefined) => void): Promise<() => Promise<void>>;
  /** Connection-pool gauges for metrics (PostgreSQL only). */
  poolStats?(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

/** Sends a notification when the transaction commits (at once outside one). Works on both databases. */
export async function notify(db: Queryable, channel: string, payload = ''): Promise<void> {
  await db.query('select pg_notify($1, $2)', [channel, payload]);
}

// LISTEN takes an identifier, not a parameter: only plain names are accepted.
function checkChannel(channel: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid notification channel name "${channel}"`);
  return channel;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/** LISTEN on a dedicated connection (a pooled one would be handed to others), reconnecting with backoff. */
async function listenPostgres(
  config: pg.ClientConfig,
  channel: string,
  handler: (payload: string | undefined) => void,
): Promise<() => Promise<void>> {
  checkChannel(channel);
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = RECONNECT_MIN_MS;

  const connect = async () => {
    const c = new pg.Client(config);
    c.on('notification', (m) => {
      if (m.channel === channel) handler(m.payload);
    });
    const lost = () => {
      if (client !== c) return;
      client = undefined;
      c.end().catch(() => {});
      scheduleReconnect();
    };
    c.on('error', lost);
    c.on('end', lost);
    try {
      await c.connect();
      await c.query(`listen ${channel}`);
    } catch (err) {
      await c.end().catch(() => {});
      throw err;
    }
    if (stopped) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
  };

  const scheduleReconnect = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().then(
        () => {
          delay = RECONNECT_MIN_MS;
          if (!stopped) handler(undefined);
        },
        () => {
          delay = Math.min(delay * 2, RECONNECT_MAX_MS);
          scheduleReconnect();
        },
      );
    }, delay);
    retry.unref();
  };

  await connect();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    const c = client;
    client = undefined;
    await c?.end().catch(() => {});
  };
}

// Parameterized statements are prepared once per connection, under a name: pg then skips Parse,
// and PostgreSQL the parsing and planning, on every later use. Planning was most of the server's
// CPU for the hot statements (about 60% for the refresh rotation). Names go to the first
// MAX_PREPARED distinct texts; any further text runs unnamed. Statements without parameters may be
// multi-statement scripts, which cannot be prepared, so they always run as simple queries.
const MAX_PREPARED = 200;
const statementNames = new Map<string, string>();

function statement(sql: string, params: unknown[] | undefined): string | pg.QueryConfig {
  if (params === undefined) return sql;
  let name = statementNames.get(sql);
  if (name === undefined && statementNames.size < MAX_PREPARED) {
    name = `sigil_${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return name === undefined ? { text: sql, values: params } : { name, text: sql, values: params };
}

export interface PostgresOptions {
  poolSize?: number;
  /**
   * Prepare parameterized statements (default true). Off for a connection pooler that moves
   * sessions between clients (PgBouncer in transaction mode before 1.21), and for the embedded
   * database's socket, whose connections share one session.
   */
  preparedStatements?: boolean;
  /**
   * Upper bound for one statement, so a request never hangs on a sick database: the server
   * cancels it after this (statement_timeout) and the client gives up a little later.
   */
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Host/port/path overrides, e.g. a unix socket directory. */
  connection?: pg.PoolConfig;
}

export function createPostgresDatabase(url: string | undefined, o: PostgresOptions = {}): Database & { pool: pg.Pool } {
  const statementTimeout = o.statementTimeoutMs ?? 10_000;
  const prepare = (sql: string, params: unknown[] | undefined) =>
    o.preparedStatements === false ? { text: sql, ...(params !== undefined && { values: params }) } : statement(sql, params);
  const pool = new pg.Pool({
    ...(url !== undefined && { connectionString: url }),
    max: o.poolSize ?? 10,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5000,
    statement_timeout: statementTimeout,
    query_timeout: statementTimeout + 2000,
    ...o.connection,
  });
  // An idle client losing its connection (server restart) must not crash the process;
  // the pool discards it and the next query opens a new one.
  pool.on('error', () => {});
  const clientConfig: pg.ClientConfig = {
    ...(url !== undefined && { connectionString: url }),
    connectionTimeoutMillis: 5000,
    ...(o.connection as pg.ClientConfig | undefined),
  };
  return {
    kind: 'postgres',
    pool,
    query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await pool.query(prepare(sql, params))).rows as R[] }),
    async transaction(fn) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('begin');
        const result = await fn({
          query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await client.query(prepare(sql, params))).rows as R[] }),
          exec: async (script) => {
            await client.query(script);
          },
        });
        await client.query('commit');
        return result;
      } catch (err) {
        // A connection that cannot even roll back is broken: destroy it rather than pool it.
        broken = await client.query('rollback').then(
          () => false,
          () => true,
        );
        throw err;
      } finally {
        client.release(broken);
      }
    },
    listen: (channel, handler) => listenPostgres(clientConfig, channel, handler),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
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
    async listen(channel, handler) {
      const unlisten = await db.listen(checkChannel(channel), handler);
      return async () => {
        if (!db.closed) await unlisten();
      };
    },
    close,
  };
}

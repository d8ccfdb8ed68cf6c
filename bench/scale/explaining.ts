// Shared by the plan guards (test/db/hot-plans.test.ts) and bench/scale/rotation-io.ts.
import type { Database } from '../../src/db/database.js';

/** Thrown to roll a transaction back on purpose. */
export class Rollback extends Error {}

export interface ExplainingOptions {
  /** EXPLAIN's options (default: analyze, buffers, costs off, timing off). */
  options?: string;
  /** Which matching statement to explain: the first one this accepts (default: the first). */
  accept?: (params: unknown[] | undefined) => boolean;
}

/**
 * `db`, but the first statement matching `pattern` (that `accept` takes) is also run under EXPLAIN
 * ANALYZE in a transaction that is rolled back, before it runs for real.
 */
export function explaining(db: Database, pattern: RegExp, o: ExplainingOptions = {}) {
  const found: { plan?: string } = {};
  const query: Database['query'] = async (sql, params) => {
    if (found.plan === undefined && pattern.test(sql) && (o.accept?.(params) ?? true)) {
      found.plan = '';
      await db
        .transaction(async (tx) => {
          const r = await tx.query<Record<string, string>>(`explain (${o.options ?? 'analyze, buffers, costs off, timing off'}) ${sql}`, params);
          found.plan = r.rows.map((row) => Object.values(row)[0]).join('\n');
          throw new Rollback();
        })
        .catch((err: unknown) => {
          if (!(err instanceof Rollback)) throw err;
        });
    }
    return db.query(sql, params);
  };
  return { db: { ...db, query } as Database, found };
}

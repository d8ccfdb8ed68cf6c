import { createBatcher } from './batch.js';
import type { Queryable } from './database.js';
import { storableText } from './errors.js';

/**
 * Ids used once (DPoP proof ids, client assertion ids), in a table whose primary key is the id's
 * key columns, so a second insert of one id, on any instance sharing the database, is a conflict:
 * a replay. Concurrent spends share one insert (src/db/batch.ts): one round trip and one commit
 * for all of them, and each is committed before its promise resolves. Within a batch, the first
 * spend of an id gets it; a repeat is a replay as it would be one statement later (on conflict
 * do nothing also skips a row that conflicts with one the same statement inserted).
 *
 * The batch travels as one JSON text that PostgreSQL takes apart: node-postgres escapes every
 * array element and formats every Date by hand, which cost more of the event loop per id than the
 * rest of the insert, while JSON.stringify is native and carries any text. Expiry times travel as
 * epoch milliseconds. A key PostgreSQL text cannot hold (U+0000, a lone surrogate) would fail the
 * statement and so every spend in its batch: such a spend is rejected alone, before it joins one,
 * and callers facing input refuse it with their own error first (storableText).
 */
export interface SpendOnce {
  /** Records the id (one value per key column) until `expiresAt` (epoch ms); false when it was already recorded. */
  spend(key: readonly string[], expiresAt: number): Promise<boolean>;
}

/**
 * A store's batch insert, plain SQL of this shape (here for key columns a, b):
 *
 *   with ins as (
 *     insert into T (a, b, expires_at)
 *     select e->>0, e->>1, to_timestamp((e->>2)::float8 / 1000) from json_array_elements($1::json) as e
 *     on conflict do nothing returning a, b
 *   )
 *   select count(*) < $2 as replayed,
 *          case when count(*) < $2 then json_agg(json_build_array(a, b)) end as inserted from ins
 *
 * One row back whatever the batch size: whether some id was a replay, and the inserted keys only then.
 */
export interface SpendOnceStatement {
  sql: string;
  /** How many key columns (values per id). */
  keyLength: number;
  /** The table, for error messages. */
  table: string;
}

export function createSpendOnce(db: Pick<Queryable, 'query'>, { sql, keyLength: n, table }: SpendOnceStatement): SpendOnce {
  const inserts = createBatcher<{ key: readonly string[]; expiresAt: number }, boolean>(async (ids) => {
    const r = await db.query<{ replayed: boolean; inserted: string[][] | null }>(sql, [
      JSON.stringify(ids.map((id) => [...id.key, id.expiresAt])),
      ids.length,
    ]);
    const row = r.rows[0];
    if (!row) throw new Error(`the ${table} insert returned no row`);
    if (!row.replayed) return ids.map(() => true);
    const inserted = new Set((row.inserted ?? []).map((k) => JSON.stringify(k)));
    return ids.map((id) => inserted.delete(JSON.stringify(id.key)));
  });
  return {
    spend(key, expiresAt) {
      if (key.length !== n || !key.every(storableText)) return Promise.reject(new Error(`not a storable ${table} key`));
      return inserts.load({ key, expiresAt });
    },
  };
}

import type { Queryable } from './database.js';

// Purges delete in batches, each its own short transaction, instead of one DELETE over every
// expired row: a million-row DELETE holds its row locks and its snapshot for as long as it runs,
// writes its WAL in one burst and, on the embedded database, blocks every request until it ends.
// Either way a batch costs about the same however large the table is, and a pass reads each row
// at most once. `table`, `column` and `where` are the callers' constants, never input; `where`
// uses $1… for `params`.

const checkLimit = (limit: number) => {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
};

const deleteByRowIds = async (q: Queryable, table: string, select: string, params: unknown[]) => {
  const r = await q.query<{ n: number }>(
    `with gone as (delete from ${table} where ctid = any (array(${select})) returning 1) select count(*)::int as n from gone`,
    params,
  );
  return r.rows[0]?.n ?? 0;
};

/**
 * Deletes at most `limit` rows matching `where`, the oldest by `column` first, and returns how
 * many. The order makes the plan a walk of `column`'s b-tree from its start that stops after
 * `limit` rows (without it, with many rows to go, PostgreSQL may read the table from its start
 * instead, and each batch re-reads the dead rows of the batches before); the index scan also marks
 * the entries of rows already deleted, so later batches skip them.
 */
export async function deleteOldest(q: Queryable, table: string, column: string, where: string, params: unknown[], limit: number): Promise<number> {
  checkLimit(limit);
  return deleteByRowIds(q, table, `select ctid from ${table} where ${where} order by ${column} limit ${limit}`, params);
}

/** Rows per page a batch of the physical walk assumes, to size its range of pages. */
const ROWS_PER_PAGE = 32;

/**
 * One step of a walk through the table in physical order, for tables whose only index on the
 * purge's column is a BRIN index (cheap to write, no order to walk, and no help once expired rows
 * are spread over the table): deletes at most `limit` rows matching `where` among the pages from
 * `fromPage` on (a TID range scan of about limit / 32 pages), and returns where the next step
 * starts: the same range while it may hold more, undefined past the table's end. A pass reads
 * the table once, whatever the number of rows to delete.
 */
export async function deletePageRange(
  q: Queryable,
  table: string,
  where: string,
  params: unknown[],
  limit: number,
  fromPage = 0,
): Promise<{ deleted: number; nextPage: number | undefined }> {
  checkLimit(limit);
  const pages = Math.max(1, Math.ceil(limit / ROWS_PER_PAGE));
  const range = `ctid >= '(${fromPage},0)'::tid and ctid < '(${fromPage + pages},0)'::tid`;
  const deleted = await deleteByRowIds(q, table, `select ctid from ${table} where ${range} and (${where}) limit ${limit}`, params);
  if (deleted >= limit) return { deleted, nextPage: fromPage };
  const size = await q.query<{ pages: number }>(`select (pg_relation_size('${table}') / current_setting('block_size')::int)::int as pages`);
  const next = fromPage + pages;
  return { deleted, nextPage: next < (size.rows[0]?.pages ?? 0) ? next : undefined };
}

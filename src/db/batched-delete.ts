import type { Queryable } from './database.js';

// Purges delete in batches, each its own short transaction, instead of one DELETE over every
// expired row: a million-row DELETE holds its row locks and its snapshot for as long as it runs,
// writes its WAL in one burst and, on the embedded database, blocks every request until it ends.
// Either way a batch costs about the same however large the table is, and a pass reads each row
// at most once.
//
// Each store writes its own batch statements (plain SQL, the batch size and page range as
// parameters); housekeeping runs every batch with custom plans (plan_cache_mode), since a
// generic plan knows neither the LIMIT nor the range and could pick a scan of the whole table.
//
// Two shapes, both deleting by row id (a Tid Scan) what a bounded sub-select picks:
// - the oldest first: `… where ctid = any (array(select ctid from T where … order by C limit $n))`,
//   for tables with a b-tree on C: the sub-select is a walk of that index from its start that
//   stops after $n rows, and it marks the entries of rows already deleted, so later batches skip
//   them (without the order, PostgreSQL may read the table from its start instead, and re-read the
//   dead rows of the batches before);
// - a range of pages: `… where ctid >= $1::tid and ctid < $2::tid and … limit $3` (a Tid Range
//   Scan), for tables whose only index on the purge column is a BRIN index (cheap to write, no order
//   to walk, and no help once expired rows are spread over the table): a pass reads the table once.

/** Runs one batch statement of the form `with gone as (delete … returning 1) select count(*)::int as n from gone`. */
export async function deleteBatch(q: Queryable, statement: string, params: unknown[]): Promise<number> {
  const r = await q.query<{ n: number }>(statement, params);
  return r.rows[0]?.n ?? 0;
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
}

/** Rows per page a batch of the physical walk assumes, to size its range of pages. */
const ROWS_PER_PAGE = 32;

/**
 * One step of a walk through `table` in physical order: runs `statement` (the page-range shape
 * above; $1 and $2 the range, $3 the limit, then `params`) over the pages from `fromPage` on,
 * about limit / 32 of them, and returns where the next step starts: the same range while it may
 * hold more, undefined past the table's end.
 */
export async function deletePageRange(
  q: Queryable,
  table: string,
  statement: string,
  params: unknown[],
  limit: number,
  fromPage = 0,
): Promise<{ deleted: number; nextPage: number | undefined }> {
  checkLimit(limit);
  const pages = Math.max(1, Math.ceil(limit / ROWS_PER_PAGE));
  const deleted = await deleteBatch(q, statement, [`(${fromPage},0)`, `(${fromPage + pages},0)`, limit, ...params]);
  if (deleted >= limit) return { deleted, nextPage: fromPage };
  const size = await q.query<{ pages: number }>(
    `select (pg_relation_size($1::regclass) / current_setting('block_size')::int)::int as pages`,
    [table],
  );
  const next = fromPage + pages;
  return { deleted, nextPage: next < (size.rows[0]?.pages ?? 0) ? next : undefined };
}

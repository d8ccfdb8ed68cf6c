import type { Queryable } from './database.js';

/**
 * Deletes at most `limit` rows of `table` that match `where`, in one statement, and returns how
 * many went. Purges call it once per short transaction instead of running one DELETE over every
 * expired row: a million-row DELETE holds its row locks and its snapshot for as long as it runs,
 * writes its WAL in one burst and, on the embedded database, blocks every request until it ends.
 * The rows are found through the index on `where` (LIMIT stops the scan early) and deleted by
 * their physical ids (a TID scan), so a batch costs the same however large the table is.
 * `table` and `where` are the caller's constants, never input; `where` uses $1… for `params`.
 */
export async function deleteSome(q: Queryable, table: string, where: string, params: unknown[], limit: number): Promise<number> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  const r = await q.query<{ n: number }>(
    `with gone as (
       delete from ${table} where ctid = any (array(select ctid from ${table} where ${where} limit ${limit})) returning 1
     ) select count(*)::int as n from gone`,
    params,
  );
  return r.rows[0]?.n ?? 0;
}

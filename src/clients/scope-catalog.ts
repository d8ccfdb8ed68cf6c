import type { Queryable } from '../db/database.js';

export interface ScopeCatalog {
  /** Every scope some enabled client may ask for; the last known list when the database is down. */
  scopes(): Promise<string[]>;
}

/** scopes_supported for the metadata document, read at most once per `ttlMs`. */
export function createScopeCatalog(db: Queryable, ttlMs = 30_000, now: () => number = Date.now): ScopeCatalog {
  let cached: { at: number; scopes: string[] } | undefined;
  return {
    async scopes() {
      if (cached && now() - cached.at < ttlMs) return cached.scopes;
      try {
        const r = await db.query<{ scope: string }>(
          'select distinct unnest(scopes) as scope from clients where not disabled order by scope',
        );
        cached = { at: now(), scopes: r.rows.map((row) => row.scope) };
      } catch (err) {
        if (!cached) throw err;
      }
      return cached.scopes;
    },
  };
}

import type { Database } from '../db/database.js';
import type { ClientRepository } from './client-repository.js';
import type { Client } from './types.js';
import { type ChangeWatch, watchChanges } from '../db/change-watch.js';
import { createBatcher } from '../db/batch.js';

/** The notification every change to the clients table sends (migration 005). */
export const CLIENTS_CHANNEL = 'sigil_clients';

/** How often the change counter is read while the cache holds anything. */
export const CLIENT_CACHE_CHECK_MS = 1000;
/**
 * The longest a cached client is used without a version check confirming it: the bound on how long
 * a disabled client, a rotated secret or a deleted client keeps working on an instance that missed
 * the notification (embedded database, CLI change) or cannot reach the database.
 */
export const CLIENT_CACHE_MAX_STALENESS_MS = 2 * CLIENT_CACHE_CHECK_MS;
/** Every entry is read again after this long, whatever the counter says. */
export const CLIENT_CACHE_TTL_MS = 30_000;

export interface ClientCacheOptions {
  /** Most clients held; the least recently used goes first. 0: no caching (every lookup reads the database). */
  maxEntries: number;
  /** Monotonic milliseconds; injected by tests. */
  now?: () => number;
}

export interface ClientCacheStartOptions {
  /** LISTEN for changes (default true). */
  listen?: boolean;
  /** Check the change counter every CLIENT_CACHE_CHECK_MS while anything is cached (default true). */
  timer?: boolean;
  /** Told when version checks start failing (cached clients then expire within the staleness bound). */
  onError?: (err: unknown) => void;
}

/** A drop-in for the repository's findById (what client authentication reads clients through). */
export interface ClientCache {
  findById(clientId: string): Promise<Client | undefined>;
  /** LISTEN, first version check, timer. A failed version check is reported, not thrown. */
  start(options?: ClientCacheStartOptions): Promise<void>;
  stop(): Promise<void>;
  /** Reads the change counter now and forgets every client when it moved. */
  check(): Promise<void>;
  /** Forgets every client (what a notification does). */
  clear(): void;
  readonly size: number;
}

interface Entry {
  client: Client;
  /** When the lookup that read it started. */
  readAt: number;
}

/**
 * Clients by id, in memory, so that client authentication costs no database round trip.
 *
 * Correctness does not rest on the cache being told: an entry is used only while something
 * recent vouches for it, either its own read or a version check (of a counter that a trigger bumps
 * on every change to the clients table) that started after it, within CLIENT_CACHE_MAX_STALENESS_MS.
 * NOTIFY makes it immediate on PostgreSQL; the timed check covers everything else, and if the
 * checks fail (database down) entries simply stop being used. Unknown ids are never cached, and
 * the secret is still checked against the stored hashes on every request (client-auth.ts).
 *
 * Misses that arrive together share one statement (src/db/batch.ts). With more active clients than
 * entries, most lookups miss: 10,000 clients against 1,000 entries, one read per miss cost
 * PostgreSQL 73 µs per token, most of it a statement's fixed cost rather than its row
 * (docs/benchmarks.md, Scale).
 */
export function createClientCache(db: Database, repo: Pick<ClientRepository, 'findByIds'>, o: ClientCacheOptions): ClientCache {
  const now = o.now ?? (() => performance.now());
  const reads = createBatcher<string, Client | undefined>(async (ids) => {
    const found = new Map((await repo.findByIds(ids)).map((c) => [c.clientId, c]));
    return ids.map((id) => found.get(id));
  });
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Client | undefined>>();
  // Bumped whenever the cache is cleared: a read that started before cannot store its result.
  let epoch = 0;
  let version: string | undefined;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let checking: Promise<void> | undefined;
  let watch: ChangeWatch | undefined;

  const clear = () => {
    epoch++;
    entries.clear();
    inflight.clear();
  };

  const fresh = (e: Entry, t: number) =>
    t - e.readAt < CLIENT_CACHE_TTL_MS && t - Math.max(e.readAt, checkedAt) <= CLIENT_CACHE_MAX_STALENESS_MS;

  async function readVersion(): Promise<void> {
    const started = now();
    const r = await db.query<{ version: string }>('select version::text as version from change_counters where name = $1', ['clients']);
    const v = r.rows[0]?.version;
    if (v === undefined) throw new Error('change_counters has no row for clients: is migration 005 applied?');
    if (version !== undefined && v !== version) clear();
    version = v;
    // Every change committed before `started` is now reflected in what the cache holds.
    checkedAt = Math.max(checkedAt, started);
  }

  function check(): Promise<void> {
    checking ??= readVersion().finally(() => {
      checking = undefined;
    });
    return checking;
  }

  function load(clientId: string): Promise<Client | undefined> {
    const pending = inflight.get(clientId);
    if (pending) return pending;
    const startedEpoch = epoch;
    const readAt = now();
    const p = reads.load(clientId).then(
      (client) => {
        if (epoch === startedEpoch) {
          inflight.delete(clientId);
          if (client) {
            entries.delete(clientId);
            entries.set(clientId, { client, readAt });
            if (entries.size > o.maxEntries) entries.delete(entries.keys().next().value as string);
          }
        }
        return client;
      },
      (err: unknown) => {
        if (epoch === startedEpoch) inflight.delete(clientId);
        throw err;
      },
    );
    inflight.set(clientId, p);
    return p;
  }

  return {
    async findById(clientId) {
      if (o.maxEntries <= 0) return reads.load(clientId);
      const e = entries.get(clientId);
      if (e) {
        if (fresh(e, now())) {
          // Least recently used first: move to the end.
          entries.delete(clientId);
          entries.set(clientId, e);
          return e.client;
        }
        entries.delete(clientId);
      }
      return load(clientId);
    },
    async start({ listen = true, timer: withTimer = true, onError = () => {} } = {}) {
      if (o.maxEntries <= 0) return;
      let failing = false;
      watch = await watchChanges(db, {
        channel: CLIENTS_CHANNEL,
        onNotify: clear,
        listen,
        timer: withTimer,
        intervalMs: CLIENT_CACHE_CHECK_MS,
        async onTimer() {
          // Nothing cached, nothing to vouch for: an idle instance sends no queries.
          if (entries.size === 0) return;
          try {
            await check();
            failing = false;
          } catch (err) {
            // Once per outage, not every second of it.
            if (!failing) onError(err);
            failing = true;
          }
        },
      });
      // Without a first check, entries are vouched for by their own reads only (2 s each).
      await check().catch(onError);
    },
    async stop() {
      await watch?.stop();
      watch = undefined;
      await checking?.catch(() => {});
      clear();
    },
    check,
    clear,
    get size() {
      return entries.size;
    },
  };
}

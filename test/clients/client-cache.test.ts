import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import {
  CLIENT_CACHE_CHECK_MS,
  CLIENT_CACHE_MAX_STALENESS_MS,
  CLIENT_CACHE_TTL_MS,
  type ClientCache,
  createClientCache,
} from '../../src/clients/client-cache.js';
import { createClientRepository } from '../../src/clients/client-repository.js';
import type { Client } from '../../src/clients/types.js';
import { createPostgresDatabase, type Database } from '../../src/db/database.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { basicAuth, buildTestApp, FORM, form } from '../helpers/app.js';
import { ON_POSTGRES } from '../helpers/db.js';

// Client authentication reads clients through an in-memory cache. What must hold: a client
// disabled, re-keyed or deleted on one instance (or by the CLI) is refused by every other instance
// within CLIENT_CACHE_MAX_STALENESS_MS, at once when it hears the NOTIFY, and whatever happens to
// the notifications or the database.

/** Resolves when `check` holds; polled, bounded by the test timeout, never a timed assertion. */
async function eventually(check: () => Promise<boolean>) {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Milliseconds for the cache; moved by hand. */
function manualClock() {
  let ms = 1_000_000;
  return { now: () => ms, advance: (by: number) => (ms += by) };
}

/**
 * Instance A (the test app, whose database the changes go through, as the CLI's would) and
 * instance B, a second app on the same database (its own pool on PostgreSQL; the same embedded
 * database in-process on PGlite), whose client cache the test may supply.
 */
async function twoInstances(t: Test, cache?: (db: Database) => Promise<ClientCache>) {
  const a = await buildTestApp(t);
  let dbB: Database = a.db;
  if (ON_POSTGRES) {
    const own = createPostgresDatabase(a.url, { poolSize: 2 });
    t.teardown(() => own.close());
    dbB = own;
  }
  const clientCache = cache && (await cache(dbB));
  if (clientCache) t.teardown(() => clientCache.stop());
  const b = await buildApp({
    config: a.config,
    db: dbB,
    keys: a.keys,
    migrationVersion: latestMigrationVersion(),
    ...(clientCache && { clientCache }),
  });
  t.teardown(() => b.close());
  const token = (app: typeof b, clientId: string, secret: string) =>
    app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': FORM, authorization: basicAuth(clientId, secret) },
      payload: form({ grant_type: 'client_credentials' }),
    });
  const repo = createClientRepository(a.db);
  return { a, b, dbB, repo, token };
}

/** B's cache: no LISTEN, no timer, a hand-moved clock: nothing changes unless the test says so. */
const quietCache = (clock: ReturnType<typeof manualClock>, maxEntries = 100) => async (db: Database) => {
  const cache = createClientCache(db, createClientRepository(db), { maxEntries, now: clock.now });
  await cache.start({ listen: false, timer: false });
  return cache;
};

t.test('disabled, re-keyed and deleted clients: another instance refuses them after its next version check', async (t) => {
  const clock = manualClock();
  let cacheB: ClientCache | undefined;
  const { a, b, repo, token } = await twoInstances(t, async (db) => {
    cacheB = await quietCache(clock)(db);
    return cacheB;
  });
  if (!cacheB) throw new Error('no cache');
  const cache = cacheB;

  const disabled = await a.seed.client({ grantTypes: ['client_credentials'] });
  const rekeyed = await a.seed.client({ grantTypes: ['client_credentials'] });
  const deleted = await a.seed.client({ grantTypes: ['client_credentials'] });
  for (const c of [disabled, rekeyed, deleted]) {
    t.equal((await token(b, c.clientId, c.secret)).statusCode, 200, `${c.clientId} cached by B`);
  }
  t.equal(cache.size, 3);

  await repo.setDisabled(disabled.clientId, true);
  // A new secret with no grace period: the old one must stop working everywhere.
  const { clientSecret: fresh } = await a.clients.rotateSecret(rekeyed.clientId, 0);
  await repo.delete(deleted.clientId);

  await cache.check();
  t.equal(cache.size, 0, 'the counter moved: B forgot every client');
  t.equal((await token(b, disabled.clientId, disabled.secret)).statusCode, 401, 'disabled client refused');
  t.equal((await token(b, rekeyed.clientId, rekeyed.secret)).statusCode, 401, 'old secret refused');
  t.equal((await token(b, rekeyed.clientId, fresh)).statusCode, 200, 'new secret accepted');
  t.equal((await token(b, deleted.clientId, deleted.secret)).statusCode, 401, 'deleted client refused');
});

t.test('refresh reads the client as stored now, whatever the cache of the instance holds', async (t) => {
  const clock = manualClock();
  const { a, b, repo, dbB } = await twoInstances(t, quietCache(clock));
  const app = await a.seed.client({ grantTypes: ['password'], scopes: ['read'] });
  await a.seed.user('kim', 'kim-password');
  const post = (payload: Record<string, string>) =>
    b.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': FORM, authorization: basicAuth(app.clientId, app.secret) },
      payload: form(payload),
    });
  const login = async () => {
    const res = await post({ grant_type: 'password', username: 'kim', password: 'kim-password' });
    t.equal(res.statusCode, 200, res.body);
    return res.json().refresh_token as string;
  };
  const first = await login();
  const second = await login();

  // B's cache still holds the client as it was (no notification, no check, clock stopped).
  await repo.setDisabled(app.clientId, true);
  const disabled = await post({ grant_type: 'refresh_token', refresh_token: first });
  t.equal(disabled.statusCode, 401, 'a disabled client: refused as client authentication would');
  t.equal(disabled.json().error, 'invalid_client');
  await repo.setDisabled(app.clientId, false);
  t.equal((await post({ grant_type: 'refresh_token', refresh_token: first })).statusCode, 200, 'the token was not spent');

  await dbB.query("update clients set grant_types = '{client_credentials}' where client_id = $1", [app.clientId]);
  const lost = await post({ grant_type: 'refresh_token', refresh_token: second });
  t.equal(lost.json().error, 'unauthorized_client', 'the client lost the password grant');
  await dbB.query("update clients set grant_types = '{password}' where client_id = $1", [app.clientId]);
  t.equal((await post({ grant_type: 'refresh_token', refresh_token: second })).json().error, 'invalid_grant', 'and its family ended');
});

t.test('without any version check, a cached client is not used past the staleness bound', async (t) => {
  const clock = manualClock();
  const { a, b, repo, token } = await twoInstances(t, quietCache(clock));
  const svc = await a.seed.client({ grantTypes: ['client_credentials'] });
  t.equal((await token(b, svc.clientId, svc.secret)).statusCode, 200);
  await repo.setDisabled(svc.clientId, true);
  // No notification, no check: B's timer is stalled, or the database is unreachable for checks.
  clock.advance(CLIENT_CACHE_MAX_STALENESS_MS + 1);
  t.equal((await token(b, svc.clientId, svc.secret)).statusCode, 401, 'B read the client again and refused it');
});

t.test('the default cache hears the change (NOTIFY) and refuses without being told', async (t) => {
  const { a, b, repo, token } = await twoInstances(t);
  const svc = await a.seed.client({ grantTypes: ['client_credentials'] });
  t.equal((await token(b, svc.clientId, svc.secret)).statusCode, 200);
  await repo.setDisabled(svc.clientId, true);
  await eventually(async () => (await token(b, svc.clientId, svc.secret)).statusCode === 401);
  t.pass('B refuses the disabled client');
});

t.test('without notifications (the CLI through the embedded socket), the timed check catches the change', async (t) => {
  const { a, b, repo, token } = await twoInstances(t, async (db) => {
    const cache = createClientCache(db, createClientRepository(db), { maxEntries: 100 });
    await cache.start({ listen: false });
    return cache;
  });
  const svc = await a.seed.client({ grantTypes: ['client_credentials'] });
  t.equal((await token(b, svc.clientId, svc.secret)).statusCode, 200);
  await repo.setDisabled(svc.clientId, true);
  await eventually(async () => (await token(b, svc.clientId, svc.secret)).statusCode === 401);
  t.pass(`refused after a check (every ${CLIENT_CACHE_CHECK_MS} ms)`);
});

t.test('the trigger counts every kind of change, plain SQL included', async (t) => {
  const { db, seed } = await buildTestApp(t);
  const version = async () =>
    (await db.query<{ v: string }>("select version::text as v from change_counters where name = 'clients'")).rows[0]?.v;
  const seen = new Set([await version()]);
  const c = await seed.client({ grantTypes: ['client_credentials'] });
  seen.add(await version());
  await db.query('update clients set scopes = $2 where client_id = $1', [c.clientId, ['read']]);
  seen.add(await version());
  await db.query('update clients set name = name where false');
  seen.add(await version());
  await db.query('delete from clients where client_id = $1', [c.clientId]);
  seen.add(await version());
  t.equal(seen.size, 5, 'insert, update, even an update of no row, and delete each moved the counter');
});

// The cache on its own, with a stand-in repository, for what a real database cannot stage.
function fakeRepo() {
  const rows = new Map<string, Client>();
  let reads = 0;
  let hold: Promise<void> | undefined;
  return {
    rows,
    reads: () => reads,
    /** Lookups wait for the returned release function. */
    holdReads() {
      let release = () => {};
      hold = new Promise((resolve) => {
        release = () => resolve();
      });
      return () => {
        hold = undefined;
        release();
      };
    },
    async findByIds(ids: readonly string[]) {
      reads++;
      const found = ids.flatMap((id) => rows.get(id) ?? []).map((row) => ({ ...row }));
      await hold;
      return found;
    },
  };
}

function fakeDb(version: { value: number; fail: boolean }): Database {
  return {
    kind: 'postgres',
    async query<R>() {
      if (version.fail) throw new Error('database unreachable');
      return { rows: [{ version: String(version.value) }] as R[] };
    },
    transaction: () => Promise.reject(new Error('unused')),
    listen: async () => async () => {},
    close: async () => {},
  };
}

/** A started cache on a fake repository and a steady change counter, on a hand-moved clock, no LISTEN, no timer. */
async function unitCache(maxEntries: number) {
  const clock = manualClock();
  const repo = fakeRepo();
  const cache = createClientCache(fakeDb({ value: 1, fail: false }), repo, { maxEntries, now: clock.now });
  await cache.start({ listen: false, timer: false });
  return { clock, repo, cache };
}

const client = (clientId: string): Client => ({
  clientId,
  name: clientId,
  authMethod: 'client_secret_basic',
  secretHash: Buffer.alloc(32),
  jwks: null,
  jwksUri: null,
  previousSecretHash: null,
  previousSecretExpiresAt: null,
  grantTypes: ['client_credentials'],
  scopes: [],
  audience: null,
  audiences: [],
  accessTokenTtlSeconds: null,
  mayIntrospect: false,
  requireDpop: false,
  disabled: false,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

t.test('cache unit: hits, LRU bound, TTL, unknown ids never cached', async (t) => {
  const { clock, repo, cache } = await unitCache(2);
  for (const id of ['a', 'b', 'c']) repo.rows.set(id, client(id));

  await cache.findById('a');
  await cache.findById('a');
  t.equal(repo.reads(), 1, 'the second lookup is a hit');
  await cache.findById('b');
  await cache.findById('a'); // a is now the most recently used
  await cache.findById('c'); // evicts b
  t.equal(cache.size, 2, 'bounded');
  const before = repo.reads();
  await cache.findById('a');
  t.equal(repo.reads(), before, 'a stayed');
  await cache.findById('b');
  t.equal(repo.reads(), before + 1, 'b was evicted');

  t.equal(await cache.findById('nobody'), undefined);
  repo.rows.set('nobody', client('nobody'));
  t.equal((await cache.findById('nobody'))?.clientId, 'nobody', 'a client created after a failed lookup is found at once');

  await cache.check(); // vouches for everything, but not past the TTL
  clock.advance(CLIENT_CACHE_TTL_MS);
  const beforeTtl = repo.reads();
  await cache.findById('nobody');
  t.equal(repo.reads(), beforeTtl + 1, 'read again after the TTL');
  await cache.stop();
});

t.test('cache unit: a read that started before a change cannot store what it read', async (t) => {
  const { repo, cache } = await unitCache(10);
  repo.rows.set('a', client('a'));
  const release = repo.holdReads();
  const inFlight = cache.findById('a');
  const shared = cache.findById('a');
  await Promise.resolve(); // the read goes out (batched reads start after the current microtask)
  cache.clear(); // a notification arrives while the read is in flight
  repo.rows.set('a', { ...client('a'), disabled: true });
  release();
  t.equal((await inFlight)?.disabled, false, 'the caller that asked before the change gets the old row');
  t.equal((await shared)?.disabled, false, 'concurrent lookups of one id share one read');
  t.equal(cache.size, 0, 'but it was not cached');
  t.equal((await cache.findById('a'))?.disabled, true, 'the next lookup reads the change');
  await cache.stop();
});

t.test('cache unit: a lookup still queued behind a batch when a change arrives reads the change, and is not cached', async (t) => {
  const { repo, cache } = await unitCache(10);
  repo.rows.set('a', client('a'));
  repo.rows.set('b', client('b'));
  const release = repo.holdReads();
  const first = cache.findById('a');
  await Promise.resolve(); // a's batch goes out and is held
  const queued = cache.findById('b'); // waits for the next batch
  cache.clear();
  repo.rows.set('b', { ...client('b'), disabled: true });
  release();
  t.equal((await first)?.disabled, false);
  t.equal((await queued)?.disabled, true, 'its statement started after the change');
  t.equal(repo.reads(), 2, 'two batches');
  t.equal(cache.size, 0, 'neither read is cached: both were asked before the change');
  await cache.stop();
});

t.test('cache unit: failing version checks stop the cache from answering after the bound', async (t) => {
  const clock = manualClock();
  const repo = fakeRepo();
  const version = { value: 1, fail: false };
  const errors: unknown[] = [];
  const cache = createClientCache(fakeDb(version), repo, { maxEntries: 10, now: clock.now });
  await cache.start({ listen: false, timer: false, onError: (err) => errors.push(err) });
  repo.rows.set('a', client('a'));
  await cache.findById('a');
  clock.advance(CLIENT_CACHE_MAX_STALENESS_MS - 1);
  await cache.check();
  clock.advance(CLIENT_CACHE_MAX_STALENESS_MS - 1);
  const reads = repo.reads();
  await cache.findById('a');
  t.equal(repo.reads(), reads, 'a successful check vouched for the entry');

  version.fail = true;
  await t.rejects(cache.check(), /unreachable/);
  clock.advance(2);
  await cache.findById('a');
  t.equal(repo.reads(), reads + 1, 'past the bound since the last good check, the client is read again');

  version.fail = false;
  version.value = 2;
  await cache.check();
  t.equal(cache.size, 0, 'a moved counter clears the cache');
  await cache.stop();
  t.same(errors, [], 'start() itself did not fail');
});

t.test('cache unit: a first check that fails does not stop start-up', async (t) => {
  const errors: unknown[] = [];
  const cache = createClientCache(fakeDb({ value: 1, fail: true }), fakeRepo(), { maxEntries: 10 });
  await cache.start({ listen: false, timer: false, onError: (err) => errors.push(err) });
  t.equal(errors.length, 1, 'reported');
  await cache.stop();
});

t.test('cache size 0: every lookup reads the database', async (t) => {
  const repo = fakeRepo();
  repo.rows.set('a', client('a'));
  const cache = createClientCache(fakeDb({ value: 1, fail: false }), repo, { maxEntries: 0 });
  await cache.start();
  await cache.findById('a');
  await cache.findById('a');
  t.equal(repo.reads(), 2);
  t.equal(cache.size, 0);
  await cache.stop();
});

t.test('misses that arrive together share one statement, and an id no text can hold fails only itself', async (t) => {
  const { db, seed } = await buildTestApp(t);
  const made = await Promise.all([1, 2, 3].map(() => seed.client({ grantTypes: ['client_credentials'] })));
  let statements = 0;
  const counting: Database = {
    ...db,
    query: (sql, params) => {
      if (/from clients where/.test(sql)) statements++;
      return db.query(sql, params);
    },
  };
  const cache = createClientCache(counting, createClientRepository(counting), { maxEntries: 100 });
  const ids = [...made.map((c) => c.clientId), 'no-such-client', 'nul\u0000id', made[0]?.clientId as string];
  const found = await Promise.all(ids.map((id) => cache.findById(id)));
  t.same(
    found.map((c) => c?.clientId),
    [...made.map((c) => c.clientId), undefined, undefined, made[0]?.clientId],
    'each lookup gets its own client, or none',
  );
  t.equal(statements, 1, 'six lookups, one statement');
  t.equal(cache.size, 3, 'only clients that exist are cached');
  t.equal((await cache.findById(made[1]?.clientId as string))?.clientId, made[1]?.clientId, 'then a hit');
  t.equal(statements, 1);
  await cache.stop();
});


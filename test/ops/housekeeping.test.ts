import t from 'tap';
import { createHousekeeping, sigilPurgeTasks } from '../../src/ops/housekeeping.js';
import { createRefreshTokenStore } from '../../src/tokens/refresh-tokens.js';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { createUserRepository } from '../../src/users/user-repository.js';
import type { Database } from '../../src/db/database.js';
import { buildTestApp } from '../helpers/app.js';

t.test('housekeeping purges what has expired and keeps what is live', async (t) => {
  const clock = { now: new Date('2034-01-01T00:00:00Z') };
  const now = () => clock.now;
  const { db, config, seed } = await buildTestApp(t, { now });
  const client = await seed.client({ grantTypes: ['password'] });
  const user = await seed.user('jane', 'pw');
  const store = createRefreshTokenStore(db, { idleSeconds: 3600, absoluteSeconds: 7200, graceSeconds: 0 }, now);
  await store.issue({ userId: user.id, clientId: client.clientId, scopes: [], authTime: now() });
  const day = 86400_000;
  await db.query(
    `insert into login_attempts (key, failures, last_failure_at, locked_until) values
       ('u:old', 3, $1, null), ('u:fresh', 3, $2, null), ('u:locked', 9, $1, $3)`,
    [new Date(clock.now.getTime() - 2 * day), clock.now, new Date(clock.now.getTime() + 60_000)],
  );
  await db.query(
    `insert into revoked_access_tokens (jti, client_id, expires_at, revoked_at) values
       ('old', 'c', $1, $1), ('live', 'c', $2, $2)`,
    [new Date(clock.now.getTime() - day), new Date(clock.now.getTime() + 600_000)],
  );

  const housekeeping = createHousekeeping(db, sigilPurgeTasks(db, config, now));
  const nothingYet = await housekeeping.runOnce();
  t.same(nothingYet, { refresh_tokens: 0, refresh_token_families: 0, revoked_access_tokens: 1, login_attempts: 1, dpop_proof_jtis: 0, spent_client_assertions: 0 });

  clock.now = new Date(clock.now.getTime() + 3 * day); // the family expired two days ago
  const later = await housekeeping.runOnce();
  t.equal(later?.refresh_tokens, 1, 'the expired token is gone');
  t.equal(later?.refresh_token_families, 1, 'and then its family');
  const left = async (table: string) =>
    (await db.query<{ n: number }>(`select count(*)::int as n from ${table}`)).rows[0]?.n;
  t.equal(await left('refresh_tokens'), 0);
  t.equal(await left('refresh_token_families'), 0);
  t.equal(await left('revoked_access_tokens'), 0);
  t.equal(await left('login_attempts'), 0);
});

/** `db`, counting transactions and noting the most rows one purge statement deleted. */
function counting(db: Database) {
  const seen = { transactions: 0, largestDelete: 0 };
  const spied: Database = {
    ...db,
    transaction: (fn) =>
      db.transaction((tx) => {
        seen.transactions++;
        return fn({
          ...tx,
          query: async <R>(sql: string, params?: unknown[]) => {
            const r = await tx.query<R>(sql, params);
            const n = (r.rows[0] as { n?: number } | undefined)?.n;
            if (/delete from/.test(sql) && typeof n === 'number') seen.largestDelete = Math.max(seen.largestDelete, n);
            return r;
          },
        });
      }),
  };
  return { spied, seen };
}

t.test('a pass over many expired rows deletes them in bounded batches and leaves live rows alone', async (t) => {
  const now = () => new Date();
  const { db, config, seed } = await buildTestApp(t, { now });
  const client = await seed.client({ grantTypes: ['password'] });
  const user = await seed.user('jane', 'pw');
  const gone = "now() - interval '3 days'";
  const live = "now() + interval '1 hour'";
  // Per table: 400 rows past keeping (several batches of 50) and 7 that must stay.
  const rows = (n: number, when: string) => `generate_series(1, ${n}) i, lateral (select ${when} as at) w`;
  await db.query(`insert into revoked_access_tokens (jti, client_id, expires_at, revoked_at) select 'old-' || i, 'c', at, at from ${rows(400, gone)}`);
  await db.query(`insert into revoked_access_tokens (jti, client_id, expires_at, revoked_at) select 'live-' || i, 'c', at, now() from ${rows(7, live)}`);
  await db.query(`insert into login_attempts (key, failures, last_failure_at) select 'u:old-' || i, 1, at from ${rows(400, gone)}`);
  await db.query(`insert into login_attempts (key, failures, last_failure_at) select 'u:live-' || i, 1, now() from ${rows(7, live)}`);
  await db.query(`insert into dpop_proof_jtis (jti, expires_at) select 'old-' || i, at from ${rows(400, gone)}`);
  await db.query(`insert into dpop_proof_jtis (jti, expires_at) select 'live-' || i, at from ${rows(7, live)}`);
  await db.query(`insert into spent_client_assertions (client_id, jti, expires_at) select 'c', 'old-' || i, at from ${rows(400, gone)}`);
  await db.query(`insert into spent_client_assertions (client_id, jti, expires_at) select 'c', 'live-' || i, at from ${rows(7, live)}`);
  // Families: 150 expired and 50 revoked days ago, two tokens each; 7 live ones with a spent and a live token.
  const family = (kind: string, n: number, expires: string, revoked: string) =>
    db.query(
      `with f as (
         insert into refresh_token_families (id, client_id, user_id, scopes, auth_time, created_at, expires_at, revoked_at)
         select md5($3 || i)::uuid, $1, $2::uuid, '{}', now() - interval '9 days', now() - interval '9 days', ${expires}, ${revoked}
         from generate_series(1, ${n}) i returning id)
       insert into refresh_tokens (token_hash, family_id, generation, created_at, expires_at)
       select sha256(convert_to(f.id::text || k, 'UTF8')), f.id, k, now() - interval '9 days' + k * interval '5 days', ${expires}
       from f, generate_series(0, 1) k`,
      [client.clientId, user.id, kind],
    );
  await family('expired', 150, gone, 'null');
  await family('revoked', 50, live, gone);
  await family('live', 7, live, 'null');

  const { spied, seen } = counting(db);
  const purged = await createHousekeeping(spied, sigilPurgeTasks(spied, config, now), { batchRows: 50 }).runOnce();
  t.same(purged, { refresh_tokens: 150 * 2, refresh_token_families: 150 + 50, revoked_access_tokens: 400, login_attempts: 400, dpop_proof_jtis: 400, spent_client_assertions: 400 });
  t.ok(seen.largestDelete <= 50, `no statement deleted more than a batch (${seen.largestDelete})`);
  t.ok(seen.transactions >= 6 * 4, `${seen.transactions} transactions: several batches a table`);
  const left = async (sql: string) => (await db.query<{ n: number }>(`select count(*)::int as n from ${sql}`)).rows[0]?.n;
  t.equal(await left("revoked_access_tokens where jti like 'live-%'"), 7);
  t.equal(await left('revoked_access_tokens'), 7);
  t.equal(await left('login_attempts'), 7);
  t.equal(await left('dpop_proof_jtis'), 7);
  t.equal(await left('spent_client_assertions'), 7);
  t.equal(await left('refresh_token_families'), 7, 'the live families stay');
  t.equal(await left('refresh_tokens'), 14, 'with both their tokens (the spent one is not yet expired)');
  t.equal(await left("refresh_tokens t where not exists (select 1 from refresh_token_families f where f.id = t.family_id)"), 0, 'no token outlives its family');
  t.same(await createHousekeeping(db, sigilPurgeTasks(db, config, now), { batchRows: 50 }).runOnce(), {
    refresh_tokens: 0, refresh_token_families: 0, revoked_access_tokens: 0, login_attempts: 0, dpop_proof_jtis: 0, spent_client_assertions: 0,
  }, 'a second pass finds nothing');
});

t.test('a pass that finds the lock taken leaves everything to the instance holding it', async (t) => {
  const { db, config } = await buildTestApp(t);
  await db.query(`insert into revoked_access_tokens (jti, client_id, expires_at, revoked_at) values ('old', 'c', now() - interval '3 days', now())`);
  if (db.kind === 'pglite') {
    // One connection: a lock held by another transaction cannot be had while this one waits.
    t.pass('the embedded database has one connection and one instance; nothing to contend');
    return;
  }
  const { LOCKS } = await import('../../src/db/locks.js');
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked = () => {};
  const hasLock = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const holder = db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [LOCKS.housekeeping]);
    locked();
    await held;
  });
  await hasLock;
  t.equal(await createHousekeeping(db, sigilPurgeTasks(db, config, () => new Date())).runOnce(), undefined, 'skipped');
  release();
  await holder;
  t.equal((await db.query<{ n: number }>('select count(*)::int as n from revoked_access_tokens')).rows[0]?.n, 1, 'nothing deleted meanwhile');
});

t.test("a family's tokens go with it: a deleted user's, a deleted client's", async (t) => {
  const { db, seed } = await buildTestApp(t);
  const store = createRefreshTokenStore(db, { idleSeconds: 3600, absoluteSeconds: 7200, graceSeconds: 0 });
  const count = async () => (await db.query<{ n: number }>('select count(*)::int as n from refresh_tokens')).rows[0]?.n;
  const client = await seed.client({ grantTypes: ['password'] });
  const other = await seed.client({ grantTypes: ['password'] });
  const user = await seed.user('ann', 'pw');
  const stays = await seed.user('bob', 'pw');
  const first = await store.issue({ userId: user.id, clientId: client.clientId, scopes: [], authTime: new Date() });
  t.match(await store.rotate(first, client.clientId), { ok: true }, 'a rotation: two tokens in the family');
  await store.issue({ userId: stays.id, clientId: other.clientId, scopes: [], authTime: new Date() });
  await store.issue({ userId: stays.id, clientId: client.clientId, scopes: [], authTime: new Date() });
  t.equal(await count(), 4);
  t.equal(await createUserRepository(db).delete(user.id), true);
  t.equal(await count(), 2, "the user's family and both its tokens are gone");
  t.equal(await createClientRepository(db).delete(client.clientId), true);
  t.equal(await count(), 1, "the client's family and its token are gone; the other client's stays");
});

// With sequential scans disabled, the planner reports whether an index can serve each hot lookup.
t.test('every hot-path lookup is served by an index', async (t) => {
  const { db } = await buildTestApp(t);
  const hot: [string, string, unknown[]][] = [
    ['client by id (client authentication)', 'select name from clients where client_id = $1', ['x']],
    ['user by name (password grant)', 'select id from users where lower(username) = lower($1)', ['x']],
    ['user by id (introspection)', 'select username from users where id = $1::uuid', ['00000000-0000-0000-0000-000000000000']],
    ['revoked access token (introspection)', 'select 1 from revoked_access_tokens where jti = $1', ['x']],
    ['refresh token by its name', 'select token_hash from refresh_tokens where family_id = $1::uuid and generation = $2::int', ['00000000-0000-0000-0000-000000000000', 1]],
    ['refresh token from before migration 013, by its hash', 'select family_id from refresh_tokens where generation is null and token_hash = $1', [Buffer.alloc(32)]],
    ['tokens of a deleted family (trigger)', 'select token_hash from refresh_tokens where family_id = $1::uuid', ['00000000-0000-0000-0000-000000000000']],
    ['families of a user (revoke --user)', 'select id from refresh_token_families where user_id = $1::uuid', ['00000000-0000-0000-0000-000000000000']],
    ['families of a client (revoke --client)', 'select id from refresh_token_families where client_id = $1', ['x']],
    ['login attempts by key', 'select locked_until from login_attempts where key = any($1::text[])', [['a', 'b']]],
    ['purge of old login attempts', 'select key from login_attempts where last_failure_at < $1', [new Date()]],
    ['purge of revocations', 'select jti from revoked_access_tokens where expires_at < $1', [new Date()]],
    ['purge of refresh tokens', 'select family_id from refresh_tokens where expires_at < $1', [new Date()]],
  ];
  for (const [what, sql, params] of hot) {
    const plan = await db.transaction(async (tx) => {
      await tx.query('set local enable_seqscan = off');
      const r = await tx.query<Record<string, string>>(`explain ${sql}`, params);
      return r.rows.map((row) => Object.values(row)[0]).join('\n');
    });
    t.notMatch(plan, /Seq Scan/, `${what}:\n${plan}`);
    t.match(plan, /Index/, what);
  }
});

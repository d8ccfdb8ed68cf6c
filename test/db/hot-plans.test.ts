import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import {
  clientsSql,
  families,
  familiesSql,
  loginFailuresSql,
  refreshTokensSql,
  revocationsSql,
  SCALE_FULL,
  SCALE_TABLES,
  type ScaleSizes,
  scaleClient,
  scaleRefreshToken,
  scaleUser,
  usersSql,
} from '../../bench/scale/dataset-sql.js';
import { explaining, Rollback } from '../../bench/scale/explaining.js';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { parseConfig } from '../../src/config.js';
import type { Database, Queryable } from '../../src/db/database.js';
import { createHousekeeping, sigilPurgeTasks } from '../../src/ops/housekeeping.js';
import { createAccessTokenRevocations } from '../../src/tokens/access-token-revocations.js';
import { createRefreshTokenStore } from '../../src/tokens/refresh-tokens.js';
import { createLoginLookup } from '../../src/users/login-lookup.js';
import { createLoginThrottle } from '../../src/users/login-throttle.js';
import { createTestDatabase } from '../helpers/db.js';

// The batched statements join several tables for many requests at once. A plan that starts from
// the wrong table (say, reading every refresh-token family, then matching them against the batch)
// is correct and fast on a small test database, and ruinous on a large one; PostgreSQL picks it
// when its statistics are missing or stale, and a prepared statement can keep such a plan for the
// life of its connection. These tests run the statements with EXPLAIN ANALYZE on tables much
// larger than a batch, without statistics (no ANALYZE, as on a fresh database), and hold the pages
// each request touches to a small bound: per-row index lookups, whatever the planner knows.

const FAMILIES = 300;
const BATCH = 20;
const MAX_PAGES_PER_REQUEST = 30;
// A rotation's top node counts its successor's insert too (the conflict check, the heap, the unique
// index and the BRIN): about 35 pages here, 9 of them the insert's.
const MAX_PAGES_PER_ROTATION = 40;

/** Pages read or hit by the whole statement: the top node's buffer counts. */
function pagesTouched(plan: string): number {
  const top = /Buffers: shared (?:hit=(\d+))?\s*(?:read=(\d+))?/.exec(plan);
  return Number(top?.[1] ?? 0) + Number(top?.[2] ?? 0);
}

async function seed(db: Database) {
  await db.query(
    `insert into clients (client_id, name, secret_hash, grant_types, scopes) values ('app', 'App', $1, '{password}', '{read}')`,
    [Buffer.alloc(32)],
  );
  const userId = randomUUID();
  await db.query(`insert into users (id, username, password_hash, scopes) values ($1, 'ann', $2, '{read}')`, [userId, `$argon2id$v=19$m=19456,t=2,p=1$${'A'.repeat(22)}$${'A'.repeat(43)}`]);
  // Her permissions are read in the same statements: roles among many, held by many users.
  await db.query(`insert into roles (name, scopes) select 'role-' || i, array['read', 'scope-' || i] from generate_series(1, ${FAMILIES}) i`);
  await db.query(`insert into user_roles (user_id, role_id) select $1, id from roles where name in ('role-7', 'role-150')`, [userId]);
  const store = createRefreshTokenStore(db, { idleSeconds: 86400, absoluteSeconds: 864000, graceSeconds: 0 });
  const tokens: string[] = [];
  for (let i = 0; i < FAMILIES; i++) tokens.push(await store.issue({ userId, clientId: 'app', scopes: ['read'], authTime: new Date() }));
  return { userId, tokens };
}

t.test('a batch of refresh rotations touches a bounded number of pages per token, however many families exist', async (t) => {
  const { db } = await createTestDatabase(t);
  const { tokens } = await seed(db);
  const { db: spied, found } = explaining(db, /with input as/);
  const store = createRefreshTokenStore(spied, { idleSeconds: 86400, absoluteSeconds: 864000, graceSeconds: 0 });
  // Issued at once, so they share one statement.
  const results = await Promise.all(tokens.slice(0, BATCH).map((token) => store.rotate(token, 'app')));
  t.ok(results.every((r) => r.ok), 'every token rotated');
  t.same(results[0]?.ok && results[0].grant, { familyId: results[0]?.ok && results[0].grant.familyId, userId: results[0]?.ok && results[0].grant.userId, clientId: 'app', scopes: ['read'], roles: ['role-150', 'role-7'], authTime: results[0]?.ok && results[0].grant.authTime }, "with the user's roles and scopes now");
  t.ok(found.plan, 'the batched statement ran');
  const perToken = pagesTouched(found.plan ?? '') / BATCH;
  t.ok(perToken <= MAX_PAGES_PER_ROTATION, `${perToken.toFixed(1)} pages per token (≤ ${MAX_PAGES_PER_ROTATION}); the plan:\n${found.plan}`);
  t.notMatch(found.plan ?? '', /Seq Scan on refresh_token/, 'never a scan of every family or token');
  t.notMatch(found.plan ?? '', /Seq Scan on (users|roles|user_roles)/, 'nor of users, roles or holdings');
});

t.test('a batch of introspection lookups touches a bounded number of pages per token, with or without a login (sid)', async (t) => {
  const { db } = await createTestDatabase(t);
  const { userId } = await seed(db);
  for (let i = 0; i < FAMILIES; i++) {
    await db.query(`insert into revoked_access_tokens (jti, client_id, expires_at, revoked_at) values ($1, 'app', now() + interval '1 hour', now())`, [randomUUID()]);
  }
  const families = (await db.query<{ id: string }>('select id from refresh_token_families order by created_at limit $1', [BATCH])).rows.map((r) => r.id);
  await db.query("update refresh_token_families set revoked_at = now(), revoked_reason = 'revoked' where id = $1", [families[0]]);
  const { db: spied, found } = explaining(db, /revoked_access_tokens r where r.jti/);
  const revocations = createAccessTokenRevocations(spied);
  // Half of the batch are a login's tokens (one family each), half have no sid.
  const statuses = await Promise.all(
    Array.from({ length: BATCH }, (_, i) => revocations.status({ jti: randomUUID(), clientId: 'app', userId, familyId: i % 2 === 0 ? families[i] : undefined })),
  );
  t.equal(statuses[0]?.revoked, true, 'the ended family revokes its token');
  t.ok(statuses.slice(1).every((s) => !s.revoked && s.clientEnabled && s.username === 'ann'), 'live families and tokens without sid are not revoked');
  const perToken = pagesTouched(found.plan ?? '') / BATCH;
  t.ok(perToken <= MAX_PAGES_PER_REQUEST, `${perToken.toFixed(1)} pages per token (≤ ${MAX_PAGES_PER_REQUEST}); the plan:\n${found.plan}`);
  t.match(found.plan ?? '', /refresh_token_families/, 'the families are read in the same statement');
});

t.test("a login's lookup (lock-out state and user in one statement) touches a bounded number of pages", async (t) => {
  const { db } = await createTestDatabase(t);
  await seed(db);
  for (let i = 0; i < FAMILIES; i++) {
    await db.query(`insert into users (username, password_hash) values ($1, (select password_hash from users where username = 'ann'))`, [`user-${i}`]);
    await db.query(`insert into login_attempts (key, failures, last_failure_at) values ($1, 1, now())`, [`u:user-${i}`]);
    await db.query(`insert into user_roles (user_id, role_id) select u.id, r.id from users u, roles r where u.username = $1 and r.name in ('role-1', $2)`, [`user-${i}`, `role-${i + 1}`]);
  }
  const { db: spied, found } = explaining(db, /from login_attempts where key = any/);
  const state = await createLoginLookup(spied).find('USER-150', '10.0.0.1');
  t.match(state, { waitSeconds: 0, hasFailures: true, user: { username: 'user-150', roles: ['role-1', 'role-151'] } });
  t.same(state.user?.effectiveScopes, ['read', 'scope-1', 'scope-151'], 'her effective scopes, from the same statement');
  const pages = pagesTouched(found.plan ?? '');
  t.ok(pages <= MAX_PAGES_PER_REQUEST, `${pages} pages (≤ ${MAX_PAGES_PER_REQUEST}); the plan:\n${found.plan}`);
  t.notMatch(found.plan ?? '', /Seq Scan on (users|login_attempts|roles|user_roles)/, 'index lookups only');
});

// ---- At a million rows (issue 16) ----
// The bench's scale dataset holds a million users and five million refresh tokens; building it
// takes minutes. These tests build the same rows (bench/scale/dataset-sql.ts) at a sample size,
// ANALYZE them as the bench's builder does, then tell the planner each table holds what the full
// dataset holds (pg_class.reltuples, scaled: the planner keeps the sample's row density per page,
// so every estimate, the statistics' distinct counts included, grows to the full size). Each hot
// statement is recorded as Sigil's own code sends it and EXPLAINed under those estimates: a
// sequential scan of a big table fails, as it would if an index were missing (the last test drops
// indexes to show that it does). No planner switch is turned off.

const SAMPLE: ScaleSizes = { users: 2000, clients: 200, refreshTokens: 10_000, revocations: 2000, loginFailures: 200 };
const BIG_TABLES = /Seq Scan on (users|clients|refresh_token_families|refresh_tokens|revoked_access_tokens|login_attempts)\b/;
const FAKE_ARGON2 = `$argon2id$v=19$m=19456,t=2,p=1$${'A'.repeat(22)}$${'A'.repeat(43)}`;
const THROTTLE = { maxFailuresPerAddress: 5, maxFailuresPerUser: 20, baseLockoutSeconds: 1, maxLockoutSeconds: 900, failureWindowSeconds: 900 };

async function withMillionRowStatistics(db: Database) {
  for (const step of [usersSql(SAMPLE, FAKE_ARGON2), clientsSql(SAMPLE), refreshTokensSql(SAMPLE), familiesSql(SAMPLE), revocationsSql(SAMPLE), loginFailuresSql(SAMPLE)]) {
    await db.query(step.sql);
  }
  await db.query(`analyze ${SCALE_TABLES.join(', ')}`);
  const full: Record<string, [number, number]> = {
    users: [SCALE_FULL.users, SAMPLE.users],
    clients: [SCALE_FULL.clients, SAMPLE.clients],
    refresh_tokens: [SCALE_FULL.refreshTokens, SAMPLE.refreshTokens],
    refresh_token_families: [families(SCALE_FULL), families(SAMPLE)],
    revoked_access_tokens: [SCALE_FULL.revocations, SAMPLE.revocations],
    login_attempts: [SCALE_FULL.loginFailures, SAMPLE.loginFailures],
  };
  for (const [table, [big, sample]] of Object.entries(full)) {
    await db.query(
      `update pg_class set reltuples = reltuples * $2
       where oid = $1::regclass or oid in (select indexrelid from pg_index where indrelid = $1::regclass)`,
      [table, big / sample],
    );
  }
  const r = await db.query<{ n: number }>(`select reltuples::float8 as n from pg_class where oid = 'refresh_tokens'::regclass`);
  return r.rows[0]?.n;
}

type Sent = { sql: string; params: unknown[] | undefined }[];

/** `db`, recording every statement (in transactions too) as Sigil's code sends it. */
function recording(db: Database) {
  const sent: Sent = [];
  const wrap = <Q extends Queryable>(q: Q): Q => ({
    ...q,
    query: (sql: string, params?: unknown[]) => {
      sent.push({ sql, params });
      return q.query(sql, params);
    },
  });
  const spied: Database = { ...wrap(db), transaction: (fn) => db.transaction((tx) => fn(wrap(tx))) };
  return { spied, sent };
}

async function planOf(db: Queryable, sql: string, params: unknown[] | undefined): Promise<string> {
  const r = await db.query<Record<string, string>>(`explain (costs off) ${sql}`, params);
  return r.rows.map((row) => Object.values(row)[0]).join('\n');
}

/** Every hot statement, sent by the code that sends it in production, recorded by `spied`. */
async function runHotStatements(spied: Database) {
  const config = parseConfig({ SIGIL_ISSUER: 'https://sigil.test', LOG_LEVEL: 'silent' });
  const now = () => new Date();
  const live = [2, 3, 4, 5, 6, 7].map((i) => ({ token: scaleRefreshToken(i), clientId: scaleClient(i % SAMPLE.clients) }));
  const store = createRefreshTokenStore(spied, { idleSeconds: 86400, absoluteSeconds: 864000, graceSeconds: 0 });
  const revocations = createAccessTokenRevocations(spied);
  const throttle = createLoginThrottle(spied, THROTTLE);
  const user = await createLoginLookup(spied).find(scaleUser(123), '10.0.0.1');
  await createClientRepository(spied).findByIds([scaleClient(7), scaleClient(8)]);
  const rotated = await Promise.all(live.map((l) => store.rotate(l.token, l.clientId)));
  // A spent token: the full transaction that finds it by its name, sees its successor and ends its family.
  const reuse = await store.rotate(scaleRefreshToken(8, 0), scaleClient(8));
  // A token from before migration 013 (32 random bytes) is looked up by its hash alone.
  const older = await store.rotate('A'.repeat(43), scaleClient(9));
  const inspected = await store.inspect(scaleRefreshToken(9));
  await store.listFamilies(user.user?.id as string);
  await store.issue({ userId: user.user?.id as string, clientId: scaleClient(123), scopes: [], authTime: now() });
  await revocations.revoke({ jti: 'hot-plans-jti', clientId: scaleClient(3), expiresAt: new Date(Date.now() + 60_000) });
  const statuses = await Promise.all(
    ['scale-jti-5', 'hot-plans-jti', 'not-revoked'].map((jti) => revocations.status({ jti, clientId: scaleClient(5), userId: user.user?.id })),
  );
  await throttle.recordFailure(scaleUser(124), '10.0.0.1');
  await throttle.recordSuccess(scaleUser(124), '10.0.0.1');
  const purged = await createHousekeeping(spied, sigilPurgeTasks(spied, config, now), { batchRows: 50 }).runOnce();
  return { user, rotated, reuse, older, inspected, statuses, purged };
}

const HOT: [string, RegExp][] = [
  ['login lookup (lock-out state, user, roles, scopes)', /from login_attempts where key = any/],
  ['client lookup (misses of the client cache, batched)', /from clients where client_id = any/],
  ['batched refresh rotation', /with input as/],
  ['refresh token by its family and generation (reuse, grace, expiry)', /where t\.family_id = \$1::uuid and t\.generation = \$2::int/],
  ['the later generations of a token (is it spent?)', /select generation, created_at, sealed, grace_used from refresh_tokens/],
  ['refresh token from before migration 013, by its hash', /where t\.generation is null and t\.token_hash = \$3/],
  ['refresh token introspection', /not exists \(select 1 from refresh_tokens s/],
  ["a user's sessions (the current token of each family)", /order by t\.generation desc/],
  ['new refresh family', /insert into refresh_token_families/],
  ['revocation insert', /insert into revoked_access_tokens/],
  ['introspection lookup (revocation check, user, client)', /revoked_access_tokens r where r\.jti/],
  ['login failure read', /from login_attempts where key = \$1 for update/],
  ['login failure write', /insert into login_attempts/],
  ['login success clears failures', /delete from login_attempts where key = any/],
  ['purge: refresh tokens (a walk in physical order)', /delete from refresh_tokens where ctid/],
  ['purge: expired refresh families', /from refresh_token_families where expires_at < \$1 order by/],
  ['purge: revoked refresh families', /from refresh_token_families where revoked_at < \$1 order by/],
  ['purge: revocations', /delete from revoked_access_tokens where ctid/],
  ['purge: login failures', /delete from login_attempts where ctid/],
];

t.test('at a million rows', async (t) => {
  // One sample for both checks: building it is most of the time.
  const { db } = await createTestDatabase(t);
  t.equal(await withMillionRowStatistics(db), SCALE_FULL.refreshTokens, 'the planner counts five million refresh tokens');
  const { spied, sent } = recording(db);
  const ran = await runHotStatements(spied);
  await t.test('every hot statement is an index lookup, never a scan of a big table', (t) => everyStatementIndexed(t, db, sent, ran));
  await t.test('the guard fails when an index is missing', (t) => guardFailsWithoutIndex(t, db, sent));
});

async function everyStatementIndexed(t: Test, db: Database, sent: Sent, { user, rotated, reuse, older, inspected, statuses, purged }: Awaited<ReturnType<typeof runHotStatements>>) {
  t.match(user, { hasFailures: false, user: { username: scaleUser(123) } }, 'the statements did their work');
  t.ok(rotated.every((r) => r.ok), 'live families rotated');
  t.match(reuse, { ok: false, reason: 'reused' }, 'a spent token is refused');
  t.match(older, { ok: false, reason: 'unknown' }, 'an unknown older token is refused');
  t.match(inspected, { clientId: scaleClient(9) }, 'a live token inspected');
  t.same(statuses.map((s) => s.revoked), [true, true, false]);
  t.ok((purged?.refresh_tokens ?? 0) > 50 && (purged?.revoked_access_tokens ?? 0) > 50, `purged in several batches: ${JSON.stringify(purged)}`);
  for (const [what, pattern] of HOT) {
    const statement = sent.find((s) => pattern.test(s.sql));
    if (!statement) {
      t.fail(`${what}: not sent`);
      continue;
    }
    const plan = await planOf(db, statement.sql, statement.params);
    t.notMatch(plan, BIG_TABLES, `${what}: no sequential scan of a big table\n${plan}`);
    if (/ctid/.test(statement.sql)) t.match(plan, /Tid Scan/, `${what}: deletes by row id`);
    if (/order by/.test(statement.sql)) t.match(plan, /Index Scan using/, `${what}: walks an index from its oldest entry`);
    if (/ctid >=/.test(statement.sql)) t.match(plan, /Tid Range Scan/, `${what}: reads one range of pages`);
  }
}

async function guardFailsWithoutIndex(t: Test, db: Database, sent: Sent) {
  const cases: [string, string, RegExp][] = [
    ['users_username_lower_key', 'login lookup', /from login_attempts where key = any/],
    ['revoked_access_tokens_expires_idx', 'purge of revocations', /delete from revoked_access_tokens where ctid/],
    ['refresh_token_families_revoked_idx', 'purge of revoked families', /from refresh_token_families where revoked_at < \$1 order by/],
    ['refresh_token_families_expires_idx', 'purge of expired families', /from refresh_token_families where expires_at < \$1 order by/],
    ['login_attempts_last_failure_at_idx', 'purge of login failures', /delete from login_attempts where ctid/],
  ];
  for (const [index, what, pattern] of cases) {
    const statement = sent.find((s) => pattern.test(s.sql));
    const plan = await db
      .transaction(async (tx) => {
        await tx.query(`drop index ${index}`);
        throw new Rollback(await planOf(tx, statement?.sql ?? 'select', statement?.params));
      })
      .catch((err: unknown) => (err instanceof Rollback ? err.message : Promise.reject(err)));
    t.match(plan, BIG_TABLES, `without ${index}, the ${what} scans a big table`);
  }
}

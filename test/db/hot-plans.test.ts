import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Database } from '../../src/db/database.js';
import { createAccessTokenRevocations } from '../../src/tokens/access-token-revocations.js';
import { createRefreshTokenStore } from '../../src/tokens/refresh-tokens.js';
import { createLoginLookup } from '../../src/users/login-lookup.js';
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

class Rollback extends Error {}

/** `db`, but the first statement matching `pattern` is also run under EXPLAIN ANALYZE (rolled back). */
function explaining(db: Database, pattern: RegExp) {
  const found: { plan?: string } = {};
  const query: Database['query'] = async (sql, params) => {
    if (found.plan === undefined && pattern.test(sql)) {
      found.plan = '';
      await db
        .transaction(async (tx) => {
          const r = await tx.query<Record<string, string>>(`explain (analyze, buffers, costs off, timing off) ${sql}`, params);
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
  t.ok(perToken <= MAX_PAGES_PER_REQUEST, `${perToken.toFixed(1)} pages per token (≤ ${MAX_PAGES_PER_REQUEST}); the plan:\n${found.plan}`);
  t.notMatch(found.plan ?? '', /Seq Scan on refresh_token_families/, 'never a scan of every family');
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

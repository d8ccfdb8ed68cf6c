import t from 'tap';
import type { Database } from '../../src/db/database.js';
import { SPEND_ASSERTIONS } from '../../src/clients/spent-assertions.js';
import { createSpendOnce } from '../../src/db/spend-once.js';
import { SPEND_PROOF_IDS } from '../../src/tokens/dpop-proof-jtis.js';
import { createTestDatabase } from '../helpers/db.js';

// The store behind DPoP proof ids and client assertion ids, on the real table of each.

// The real database, with its statements counted: the batching is what is under test.
function counted(db: Database) {
  const statements: string[] = [];
  const q: Pick<Database, 'query'> = {
    query: (sql, params) => {
      statements.push(sql);
      return db.query(sql, params);
    },
  };
  return { q, statements };
}

t.test('concurrent spends share one insert; of two with the same id exactly one wins', async (t) => {
  const { db } = await createTestDatabase(t);
  const { q, statements } = counted(db);
  const ids = createSpendOnce(q, SPEND_ASSERTIONS);
  const exp = Date.now() + 60_000;
  const answers = await Promise.all([
    ids.spend(['c1', 'a'], exp),
    ids.spend(['c1', 'a'], exp),
    ids.spend(['c2', 'a'], exp),
    ids.spend(['c1', 'with space, "quotes", \\ and ünïcode'], exp),
    ids.spend(['c1', 'a'], exp),
  ]);
  t.same(answers, [true, false, true, true, false], 'the first spend of an id wins, repeats are replays');
  t.equal(statements.length, 1, 'one statement (one commit) for the whole batch');
  const rows = await db.query<{ client_id: string; jti: string; ms: number }>(
    `select client_id, jti, (extract(epoch from expires_at) * 1000)::float8 as ms from spent_client_assertions order by client_id, jti`,
  );
  t.same(
    rows.rows.map((r) => [r.client_id, r.jti]),
    [['c1', 'a'], ['c1', 'with space, "quotes", \\ and ünïcode'], ['c2', 'a']],
    'stored as given',
  );
  t.ok(rows.rows.every((r) => Math.abs(r.ms - exp) < 1), 'with the expiry given');

  t.same(await Promise.all([ids.spend(['c3', 'x'], exp), ids.spend(['c3', 'y'], exp)]), [true, true], 'a batch without a replay');
});

t.test('an id spent by another instance on the same database is a replay', async (t) => {
  const { db } = await createTestDatabase(t);
  const a = createSpendOnce(db, SPEND_PROOF_IDS);
  const b = createSpendOnce(db, SPEND_PROOF_IDS);
  const exp = Date.now() + 60_000;
  t.equal(await a.spend(['p1'], exp), true);
  t.same(await Promise.all([b.spend(['p1'], exp), b.spend(['p2'], exp)]), [false, true]);
  t.equal(await a.spend(['p2'], exp), false);
});

t.test('a key PostgreSQL text cannot hold is rejected alone, not with its batch', async (t) => {
  const { db } = await createTestDatabase(t);
  const { q, statements } = counted(db);
  const ids = createSpendOnce(q, SPEND_ASSERTIONS);
  const exp = Date.now() + 60_000;
  const [nul, lone, fine] = await Promise.allSettled([ids.spend(['c', 'a\0b'], exp), ids.spend(['c', '\ud800'], exp), ids.spend(['c', 'ok'], exp)]);
  t.equal(nul?.status, 'rejected');
  t.equal(lone?.status, 'rejected');
  t.same(fine, { status: 'fulfilled', value: true });
  t.equal(statements.length, 1);
});

import t from 'tap';
import { notify } from '../../src/db/database.js';
import { KEYS_CHANNEL } from '../../src/keys/rotation.js';
import { createTestDatabase, ON_POSTGRES } from '../helpers/db.js';

// The notification path instances use to hear about key changes (db.listen / notify).

/** Resolves when `check` holds; polled, bounded by the test timeout, never a timed assertion. */
async function eventually(check: () => boolean) {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
}

t.test('listen receives notifications committed by transactions, until unlistened', async (t) => {
  const { db } = await createTestDatabase(t);
  const got: Array<string | undefined> = [];
  const unlisten = await db.listen(KEYS_CHANNEL, (payload) => got.push(payload));
  await db.transaction(async (tx) => {
    await notify(tx, KEYS_CHANNEL, 'in-tx');
    await notify(tx, 'some_other_channel', 'ignored');
  });
  await eventually(() => got.length > 0);
  t.same(got, ['in-tx'], 'delivered at commit, on our channel only');
  await db.transaction(async (tx) => {
    await notify(tx, KEYS_CHANNEL, 'rolled-back');
    throw new Error('abort');
  }).catch(() => {});
  await notify(db, KEYS_CHANNEL, 'second');
  await eventually(() => got.length > 1);
  t.same(got, ['in-tx', 'second'], 'a rolled-back transaction notifies nobody');
  await unlisten();
  await t.rejects(db.listen('bad; drop table x', () => {}), /invalid notification channel/);
});

t.test('the listener reconnects after losing its connection, and says so', { skip: !ON_POSTGRES && 'needs PostgreSQL connections' }, async (t) => {
  const { db } = await createTestDatabase(t);
  const got: Array<string | undefined> = [];
  const unlisten = await db.listen(KEYS_CHANNEL, (payload) => got.push(payload));
  t.teardown(unlisten);
  const killed = await db.query<{ ok: boolean }>(
    `select pg_terminate_backend(pid) as ok from pg_stat_activity
     where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`,
  );
  t.same(
    killed.rows.map((r) => r.ok),
    [true],
    'the listening connection was terminated',
  );
  await eventually(() => got.includes(undefined));
  t.pass('after reconnecting, the handler is told that changes may have been missed');
  await notify(db, KEYS_CHANNEL, 'after');
  await eventually(() => got.includes('after'));
  t.pass('notifications arrive again');
});

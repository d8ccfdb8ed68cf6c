import t from 'tap';
import { watchChanges } from '../../src/db/change-watch.js';
import { notify } from '../../src/db/database.js';
import { createTestDatabase } from '../helpers/db.js';

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!ok()) throw new Error(`gave up waiting for ${what}`);
};

t.test('a notification refreshes at once; the timer refreshes without one; stop ends both', async (t) => {
  const { db } = await createTestDatabase(t, { migrated: false });
  let notified = 0;
  let ticked = 0;
  let afterListen = 0;
  const watch = await watchChanges(db, {
    channel: 'sigil_change_watch_test',
    onNotify: () => notified++,
    afterListen: async () => {
      afterListen++;
    },
    intervalMs: 20,
    onTimer: async () => {
      ticked++;
    },
  });
  t.equal(afterListen, 1, 'afterListen ran once LISTEN was in place');
  await notify(db, 'sigil_change_watch_test');
  await until('the notification', () => notified === 1);
  await until('two ticks', () => ticked >= 2);
  await watch.stop();
  const [n, k] = [notified, ticked];
  await notify(db, 'sigil_change_watch_test');
  await new Promise((r) => setTimeout(r, 200));
  t.same([notified, ticked], [n, k], 'after stop: no notification handled, no tick');
});

t.test('listen and timer can each be turned off', async (t) => {
  const { db } = await createTestDatabase(t, { migrated: false });
  let notified = 0;
  let ticked = 0;
  const watch = await watchChanges(db, {
    channel: 'sigil_change_watch_off',
    onNotify: () => notified++,
    afterListen: async () => t.fail('afterListen without LISTEN'),
    intervalMs: 10,
    onTimer: async () => {
      ticked++;
    },
    listen: false,
    timer: false,
  });
  await notify(db, 'sigil_change_watch_off');
  await new Promise((r) => setTimeout(r, 150));
  t.same([notified, ticked], [0, 0]);
  await watch.stop();
});

t.test('a failing afterListen undoes the LISTEN and reaches the caller', async (t) => {
  const { db } = await createTestDatabase(t, { migrated: false });
  let notified = 0;
  await t.rejects(
    watchChanges(db, {
      channel: 'sigil_change_watch_fail',
      onNotify: () => notified++,
      afterListen: async () => {
        throw new Error('first read failed');
      },
      intervalMs: 10,
      onTimer: async () => {},
    }),
    { message: 'first read failed' },
  );
  await notify(db, 'sigil_change_watch_fail');
  await new Promise((r) => setTimeout(r, 150));
  t.equal(notified, 0, 'no listener left behind');
});

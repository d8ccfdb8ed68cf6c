import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { runEvery } from '../src/periodic.js';

t.test('a run never overlaps the previous one, and stop() waits for the run in progress', async (t) => {
  let running = 0;
  let most = 0;
  let runs = 0;
  let finished = 0;
  const periodic = runEvery(5, async () => {
    runs++;
    running++;
    most = Math.max(most, running);
    await sleep(40); // far longer than the interval
    running--;
    finished++;
  });
  while (runs < 2) await sleep(5);
  await periodic.stop();
  t.equal(most, 1, 'one run at a time');
  t.equal(finished, runs, 'stop() returned only after the run in progress finished');
  const after = runs;
  await sleep(30);
  t.equal(runs, after, 'no run after stop()');
});

t.test('a failing run is dropped, and the next tick runs again', async (t) => {
  let calls = 0;
  const periodic = runEvery(5, async () => {
    calls++;
    throw new Error('boom');
  });
  while (calls < 3) await sleep(5);
  await periodic.stop();
  t.ok(calls >= 3, 'kept running after failures (an unhandled rejection would have failed this test file)');
});

import t from 'tap';
import { createBatcher } from '../../src/db/batch.js';

// The batcher behind introspection's status lookups: fewer statements under load, the same answers.

function deferredRuns() {
  const runs: { keys: number[]; finish: (fail?: Error) => void }[] = [];
  const run = (keys: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      runs.push({ keys, finish: (fail) => (fail ? reject(fail) : resolve(keys.map((k) => `v${k}`))) });
    });
  return { runs, run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('lookups asked together share one run; each gets its own answer', async (t) => {
  const { runs, run } = deferredRuns();
  const b = createBatcher(run, { maxInFlight: 2 });
  const answers = Promise.all([1, 2, 3].map((k) => b.load(k)));
  await tick();
  t.same(
    runs.map((r) => r.keys),
    [[1, 2, 3]],
  );
  runs[0]?.finish();
  t.same(await answers, ['v1', 'v2', 'v3']);
});

t.test('while maxInFlight runs are busy, new lookups queue and go out together', async (t) => {
  const { runs, run } = deferredRuns();
  const b = createBatcher(run, { maxInFlight: 1, maxBatch: 2 });
  const first = b.load(1);
  await tick();
  const later = [2, 3, 4].map((k) => b.load(k));
  await tick();
  t.equal(runs.length, 1, 'nothing else starts while the one run allowed is busy');
  runs[0]?.finish();
  t.equal(await first, 'v1');
  await tick();
  t.same(runs[1]?.keys, [2, 3], 'the queue leaves in batches of at most maxBatch');
  runs[1]?.finish();
  await tick();
  t.same(runs[2]?.keys, [4]);
  runs[2]?.finish();
  t.same(await Promise.all(later), ['v2', 'v3', 'v4']);
});

t.test('a failed run fails its own lookups only', async (t) => {
  const { runs, run } = deferredRuns();
  const b = createBatcher(run);
  const failed = [b.load(1), b.load(2)];
  await tick();
  runs[0]?.finish(new Error('connection lost'));
  for (const p of failed) await t.rejects(p, /connection lost/);
  const ok = b.load(3);
  await tick();
  runs[1]?.finish();
  t.equal(await ok, 'v3');
});

t.test('lookups left without a value by their run are rejected', async (t) => {
  const b = createBatcher(async (keys: number[]) => keys.slice(0, 1).map(String));
  const results = await Promise.allSettled([b.load(1), b.load(2)]);
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected'],
  );
});

import t from 'tap';
import { createLimiter, createPasswordHasher } from '../../src/users/passwords.js';

// argon2 runs at most SIGIL_ARGON2_CONCURRENCY hashes at once (memory and thread-pool bound).

t.test('the limiter runs at most n tasks at once, the others in arrival order', async (t) => {
  const limit = createLimiter(2);
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const gates = new Map<number, () => void>();
  const task = (i: number) =>
    limit(async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => gates.set(i, resolve));
      running--;
      if (i === 3) throw new Error('task 3 fails');
      return i;
    });
  const results = [1, 2, 3, 4, 5].map((i) => task(i).catch((err: Error) => err.message));
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  await settle();
  t.same(started, [1, 2], 'two start, three wait');
  gates.get(2)?.();
  await settle();
  t.same(started, [1, 2, 3], 'a finished task lets the oldest waiting one in');
  gates.get(3)?.();
  await settle();
  t.same(started, [1, 2, 3, 4], 'a failed task frees its slot too');
  gates.get(1)?.();
  await settle();
  gates.get(4)?.();
  await settle();
  gates.get(5)?.();
  t.same(await Promise.all(results), [1, 2, 'task 3 fails', 4, 5]);
  t.equal(peak, 2);
});

t.test('a hasher limited to one hash at a time still answers every verify', async (t) => {
  const hasher = createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1, concurrency: 1 });
  const hash = await hasher.hash('right password');
  const verdicts = await Promise.all([
    hasher.verify(hash, 'right password'),
    hasher.verify(hash, 'wrong password'),
    hasher.verifyDummy('anything'),
    hasher.verify(hash, 'right password'),
  ]);
  t.same(
    verdicts.map((v) => v?.ok),
    [true, false, undefined, true],
  );
});

import t from 'tap';
import { createPostgresDatabase, type Database } from '../../src/db/database.js';
import { createKeyRepository } from '../../src/keys/key-repository.js';
import { createKeyService, type ManagedKeyService } from '../../src/keys/key-service.js';
import { createTestDatabase, ON_POSTGRES } from '../helpers/db.js';
import { keysTestConfig, testClock, testEncryptionKeys } from '../helpers/keys.js';

// Several Sigil instances on one database. On PostgreSQL each instance has its own pool, so the
// rotation transactions really run at the same time; on PGlite (one process, one session) they
// are serialized by PGlite itself and the test shows that the same code stays correct there.

const INSTANCES = 4;

async function instances(t: Parameters<typeof createTestDatabase>[0], clock: ReturnType<typeof testClock>) {
  const { db, url } = await createTestDatabase(t);
  const dbs: Database[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    if (ON_POSTGRES && url) {
      const own = createPostgresDatabase(url, { poolSize: 2 });
      t.teardown(() => own.close());
      dbs.push(own);
    } else {
      dbs.push(db);
    }
  }
  const config = keysTestConfig();
  const encryptionKeys = testEncryptionKeys();
  const services = dbs.map((d) => createKeyService({ db: d, config, encryptionKeys, now: clock.now }));
  return { db, services, config };
}

const created = (results: Array<Array<{ type: string }>>) => results.flat().filter((e) => e.type === 'created').length;

t.test(`${INSTANCES} instances starting and rotating at once: exactly one new key per step`, async (t) => {
  const clock = testClock();
  const T0 = clock.now();
  const { db, services, config } = await instances(t, clock);
  const repo = createKeyRepository(db);
  const { rotationIntervalSeconds: interval, leadTimeSeconds: lead, retentionSeconds: retention } = config.keys;

  await Promise.all(services.map((s) => s.load()));
  t.equal((await repo.list()).length, 1, 'first start: one key, whoever came first');
  const kids = new Set(services.map((s) => s.jwks().body));
  t.equal(kids.size, 1, 'every instance serves the same JWKS');

  for (let round = 1; round <= 3; round++) {
    clock.set(new Date(+T0 + (round * interval - lead) * 1000));
    const results = await Promise.all(services.map((s) => s.tick()));
    t.equal(created(results), 1, `rotation ${round}: one instance created the next key`);
    t.equal((await repo.list()).filter((k) => k.retiresAt === null).length, 1, 'one newest key');
    t.equal(new Set(services.map((s) => s.jwks().etag)).size, 1, 'all instances publish it');
    const again = await Promise.all(services.map((s) => s.tick()));
    t.equal(created(again), 0, 'nobody creates it twice');

    clock.set(new Date(+T0 + round * interval * 1000));
    const signers = await Promise.all(services.map(async (s) => JSON.parse(atob((await s.sign({}, 60)).split('.')[0] as string)).kid));
    t.equal(new Set(signers).size, 1, 'all instances switch to the new key at the same instant');
  }

  clock.set(new Date(+T0 + (3 * interval + retention) * 1000));
  const removal = await Promise.all(services.map((s) => s.tick()));
  t.equal(removal.flat().filter((e) => e.type === 'removed').length, 1, 'the last retired key is removed once');
  t.equal(created(removal), 0);

  const manual = await Promise.all(services.map((s) => s.rotation.rotate()));
  t.equal(created(manual.map((r) => r.events)), 1, '`sigil keys rotate` from every instance at once: one key');
  t.equal(manual.flatMap((r) => r.events).filter((e) => e.type === 'already-pending').length, INSTANCES - 1);
});

t.test('the schema itself refuses a second "next key" and a duplicate generation', async (t) => {
  const clock = testClock();
  const { db, services } = await instances(t, clock);
  await services[0]?.load();
  const [key] = await createKeyRepository(db).list();
  if (!key) throw new Error('no key');
  const repo = createKeyRepository(db);
  const copy = { ...key, kid: 'second-open-key', generation: 2 };
  await t.rejects(repo.insert(copy), { code: '23505' }, 'two keys without a retirement: refused');
  const later = new Date(+key.activatesAt + 3_600_000);
  await t.rejects(
    repo.insert({ ...copy, retiresAt: later, removesAt: later, generation: 1 }),
    { code: '23505' },
    'a second successor of the same key (same generation): refused',
  );
  await t.rejects(
    db.query(`update signing_keys set public_jwk = public_jwk || '{"d":"secret"}'::jsonb`),
    { code: '23514' },
    'a private member in public_jwk: refused',
  );
});

t.test('a change made by one instance reaches the others through NOTIFY, without waiting for the timer', async (t) => {
  const clock = testClock();
  const { services } = await instances(t, clock);
  const [a, ...others] = services as [ManagedKeyService, ...ManagedKeyService[]];
  // No timer: only the notification can make the others reload.
  await Promise.all(services.map((s) => s.start({ timer: false })));
  t.teardown(() => Promise.all(services.map((s) => s.stop())));
  const result = await a.rotation.rotate({ now: true });
  const kid = result.events.find((e) => e.type === 'created')?.kid as string;
  // Waiting for an event (bounded by the test timeout), not for a duration.
  const seen = (s: ManagedKeyService) => s.jwks().body.includes(`"kid":"${kid}"`);
  while (!others.every(seen)) await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(others.every(seen), 'every instance reloaded the key set');
  t.ok(others.every((s) => s.sign({}, 60)), 'and signs with it');
});

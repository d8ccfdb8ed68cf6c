import t from 'tap';
import {
  hasChanges,
  type KeyPolicy,
  type KeySchedule,
  keyState,
  planKeyChanges,
  signingKeyAt,
} from '../../src/keys/key-schedule.js';

// The life-cycle rules alone, without database or crypto: plans are applied by hand here.

const H = 3600;
const policy: KeyPolicy = { rotationIntervalSeconds: 24 * H, leadTimeSeconds: H, retentionSeconds: 2 * H };
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function apply(keys: KeySchedule[], plan: ReturnType<typeof planKeyChanges>, kid = `k${keys.length + 1}`): KeySchedule[] {
  const updated = new Map(plan.update.map((u) => [u.kid, u]));
  const out = keys.filter((k) => !plan.delete.includes(k.kid)).map((k) => ({ ...(updated.get(k.kid) ?? k) }));
  if (plan.create) {
    const generation = Math.max(0, ...keys.map((k) => k.generation)) + 1;
    out.push({ kid, generation, activatesAt: plan.create.activatesAt, retiresAt: null, removesAt: null, revokedAt: null });
  }
  return out;
}
const open = (keys: KeySchedule[]) => keys.filter((k) => k.retiresAt === null && k.revokedAt === null);

t.test('first start: one key, active at once; nothing more until it is due', async (t) => {
  const plan = planKeyChanges([], T0, policy, { kind: 'scheduled' });
  t.same(plan.create, { activatesAt: T0 });
  const keys = apply([], plan);
  t.equal(keyState(keys[0] as KeySchedule, T0), 'active');
  t.notOk(hasChanges(planKeyChanges(keys, at(23 * H - 1), policy, { kind: 'scheduled' })), 'not due before interval − lead');
});

t.test('scheduled rotation: created lead time ahead, predecessor retires at that instant and leaves after retention', async (t) => {
  let keys = apply([], planKeyChanges([], T0, policy, { kind: 'scheduled' }));
  const due = at(23 * H);
  const plan = planKeyChanges(keys, due, policy, { kind: 'scheduled' });
  t.same(plan.create, { activatesAt: at(24 * H) }, 'signs exactly one interval after its predecessor');
  keys = apply(keys, plan);
  const [k1, k2] = keys as [KeySchedule, KeySchedule];
  t.same(k1.retiresAt, at(24 * H));
  t.same(k1.removesAt, at(26 * H));
  t.equal(open(keys).length, 1, 'only the newest key is open');
  t.same(
    [at(23 * H), at(24 * H - 1), at(24 * H), at(26 * H - 1), at(26 * H)].map((x) => [keyState(k1, x), keyState(k2, x)]),
    [
      ['active', 'pending'],
      ['active', 'pending'],
      ['retired', 'active'],
      ['retired', 'active'],
      ['removed', 'active'],
    ],
  );
  t.equal(signingKeyAt(keys, at(24 * H - 1))?.kid, 'k1');
  t.equal(signingKeyAt(keys, at(24 * H))?.kid, 'k2');
  t.notOk(hasChanges(planKeyChanges(keys, at(25 * H), policy, { kind: 'scheduled' })), 'the pending key is not duplicated');
  const removal = planKeyChanges(keys, at(26 * H), policy, { kind: 'scheduled' });
  t.same(removal.delete, ['k1'], 'deleted once past removal');
  t.equal(removal.create, undefined);
});

t.test('after a downtime the next key still gets the full lead time', async (t) => {
  const keys = apply([], planKeyChanges([], T0, policy, { kind: 'scheduled' }));
  const late = at(30 * H);
  const plan = planKeyChanges(keys, late, policy, { kind: 'scheduled' });
  t.same(plan.create, { activatesAt: at(31 * H) });
  t.equal(signingKeyAt(apply(keys, plan), late)?.kid, 'k1', 'the old key keeps signing meanwhile');
});

t.test('rotate: next key now, with the lead time; a second rotate finds it pending', async (t) => {
  let keys = apply([], planKeyChanges([], T0, policy, { kind: 'scheduled' }));
  const plan = planKeyChanges(keys, at(60), policy, { kind: 'rotate' });
  t.same(plan.create, { activatesAt: at(60 + H) });
  keys = apply(keys, plan);
  const again = planKeyChanges(keys, at(120), policy, { kind: 'rotate' });
  t.notOk(hasChanges(again));
  t.same(again.events, [{ type: 'already-pending', kid: 'k2', activatesAt: at(60 + H) }]);
});

t.test('rotate --now: new key at once, current retired and kept for retention, pending dropped', async (t) => {
  let keys = apply([], planKeyChanges([], T0, policy, { kind: 'scheduled' }));
  keys = apply(keys, planKeyChanges(keys, at(23 * H), policy, { kind: 'scheduled' }));
  const now = at(23 * H + 60);
  const plan = planKeyChanges(keys, now, policy, { kind: 'rotate-now' });
  t.same(plan.delete, ['k2'], 'the pending key never signed: dropped');
  t.same(plan.create, { activatesAt: now });
  keys = apply(keys, plan, 'k3');
  t.equal(signingKeyAt(keys, now)?.kid, 'k3');
  const k1 = keys.find((k) => k.kid === 'k1') as KeySchedule;
  t.same([k1.retiresAt, k1.removesAt], [now, at(25 * H + 60)]);
  t.equal(open(keys).length, 1);
});

t.test('revoke: the signing key is replaced by a promoted pending key, or by a new one', async (t) => {
  let keys = apply([], planKeyChanges([], T0, policy, { kind: 'scheduled' }));
  keys = apply(keys, planKeyChanges(keys, at(23 * H), policy, { kind: 'scheduled' }));
  const now = at(23 * H + 60);
  const plan = planKeyChanges(keys, now, policy, { kind: 'revoke', kid: 'k1' });
  t.same(
    plan.events.map((e) => e.type),
    ['revoked', 'promoted'],
  );
  t.equal(plan.create, undefined);
  keys = apply(keys, plan);
  t.equal(keyState(keys[0] as KeySchedule, now), 'revoked');
  t.equal(signingKeyAt(keys, now)?.kid, 'k2', 'the already-published pending key signs at once');

  const alone = apply([], planKeyChanges([], T0, policy, { kind: 'scheduled' }));
  const p2 = planKeyChanges(alone, at(60), policy, { kind: 'revoke', kid: 'k1' });
  t.same(p2.create, { activatesAt: at(60) }, 'nothing left to sign: a new key at once');
  t.throws(() => planKeyChanges(alone, at(60), policy, { kind: 'revoke', kid: 'nope' }), { name: 'NotFoundError' });
});

t.test('revoking the pending key reopens the current one; when a successor is due it is replaced at once', async (t) => {
  let keys = apply([], planKeyChanges([], T0, policy, { kind: 'scheduled' }));
  keys = apply(keys, planKeyChanges(keys, at(60), policy, { kind: 'rotate' }));
  const plan = planKeyChanges(keys, at(120), policy, { kind: 'revoke', kid: 'k2' });
  t.same(
    plan.update.map((u) => u.kid),
    ['k2', 'k1'],
    'the revoked key is closed before the current one reopens (one open key at every statement)',
  );
  const reopened = apply(keys, plan);
  const k1 = reopened.find((k) => k.kid === 'k1') as KeySchedule;
  t.same([k1.retiresAt, k1.removesAt], [null, null], 'the current key is the newest again');
  t.equal(plan.create, undefined, 'its successor is not due yet');

  let due = apply([], planKeyChanges([], T0, policy, { kind: 'scheduled' }));
  due = apply(due, planKeyChanges(due, at(23 * H), policy, { kind: 'scheduled' }));
  const replace = planKeyChanges(due, at(23 * H + 60), policy, { kind: 'revoke', kid: 'k2' });
  t.same(
    replace.events.map((e) => e.type),
    ['revoked', 'created'],
  );
  t.same(replace.create, { activatesAt: at(24 * H + 60) }, 'the replacement gets the full lead time');
  const after = apply(due, replace, 'k3');
  t.same((after.find((k) => k.kid === 'k1') as KeySchedule).retiresAt, at(24 * H + 60));
  t.equal(open(after).length, 1);
});

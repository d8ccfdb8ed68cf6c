import { NotFoundError } from '../db/errors.js';

// The key life cycle as a pure function of the stored schedule and the clock, so the rules can be
// read (and tested) in one place, apart from SQL, crypto and timers.
//
// pending → active → retired → removed. A key's state follows from its timestamps; the only writes
// are "create the next key" (which also fixes when the current one retires and leaves the JWKS),
// "delete a key past removes_at", and the operator's emergency actions. Activation and retirement
// need no write at all: every instance switches keys by the clock, at the same stored instant.

export type KeyState = 'pending' | 'active' | 'retired' | 'revoked' | 'removed';

/** The part of a stored key the life cycle looks at. */
export interface KeySchedule {
  kid: string;
  /** Creation order, unique. */
  generation: number;
  activatesAt: Date;
  /** When the next key takes over; null while this is the newest key. */
  retiresAt: Date | null;
  /** When it leaves the JWKS (retirement + retention, or revocation + retention for the audit trail). */
  removesAt: Date | null;
  revokedAt: Date | null;
}

export interface KeyPolicy {
  rotationIntervalSeconds: number;
  leadTimeSeconds: number;
  retentionSeconds: number;
}

export type KeyIntent =
  /** The timer: create the next key when it is due, delete keys past removal. */
  | { kind: 'scheduled' }
  /** `sigil keys rotate`: create the next key now, published for the full lead time before it signs. */
  | { kind: 'rotate' }
  /** `sigil keys rotate --now`: a new key signs at once; the current one retires; pending ones are dropped. */
  | { kind: 'rotate-now' }
  /** `sigil keys revoke KID`: the key leaves the JWKS at once. */
  | { kind: 'revoke'; kid: string };

export type KeyEvent =
  | { type: 'created'; activatesAt: Date }
  | { type: 'promoted'; kid: string; activatesAt: Date }
  | { type: 'retired'; kid: string; at: Date }
  | { type: 'revoked'; kid: string }
  | { type: 'dropped'; kid: string }
  | { type: 'removed'; kid: string }
  | { type: 'already-pending'; kid: string; activatesAt: Date }
  | { type: 'already-revoked'; kid: string };

export interface KeyPlan {
  /** Keys to delete (past removal, or pending keys dropped by an emergency rotation). */
  delete: string[];
  /** New schedules of existing keys; keys being closed (given a retires_at or revoked) come first. */
  update: KeySchedule[];
  /** A key to create, and when it starts signing. It is the newest key: retires_at null. */
  create: { activatesAt: Date } | undefined;
  events: KeyEvent[];
}

export const hasChanges = (p: KeyPlan) => p.delete.length > 0 || p.update.length > 0 || p.create !== undefined;

const at = (t: Date, seconds: number) => new Date(t.getTime() + seconds * 1000);
const same = (a: Date | null, b: Date | null) => (a === null ? b === null : b !== null && a.getTime() === b.getTime());

export function keyState(k: KeySchedule, t: Date): KeyState {
  if (k.revokedAt && k.revokedAt <= t) return 'revoked';
  if (k.removesAt && k.removesAt <= t) return 'removed';
  if (k.retiresAt && k.retiresAt <= t) return 'retired';
  return k.activatesAt <= t ? 'active' : 'pending';
}

/** Published in the JWKS at `t`: pending, active or retired. */
export const isPublished = (k: KeySchedule, t: Date) => {
  const s = keyState(k, t);
  return s === 'pending' || s === 'active' || s === 'retired';
};

/** The key that signs at `t`: the newest active one. */
export function signingKeyAt<K extends KeySchedule>(keys: readonly K[], t: Date): K | undefined {
  let best: K | undefined;
  for (const k of keys) {
    if (keyState(k, t) !== 'active') continue;
    if (!best || k.activatesAt > best.activatesAt || (+k.activatesAt === +best.activatesAt && k.generation > best.generation)) {
      best = k;
    }
  }
  return best;
}

/**
 * What to change so that at `t` the stored keys follow the policy (and the operator's intent):
 * - keys past removes_at are deleted;
 * - if nothing can sign now (first start, or the signing key was revoked), a pending key is
 *   promoted (it is already published), else a new key signs at once;
 * - when the newest key has signed for interval − lead, the next key is created, signing from
 *   max(its predecessor's activation + interval, now + lead): never before it has been published
 *   for the full lead time, even after a downtime;
 * - each key that is not retired yet retires exactly when its successor activates and leaves the
 *   JWKS `retention` later; the newest key has no retirement.
 */
export function planKeyChanges(keys: readonly KeySchedule[], t: Date, policy: KeyPolicy, intent: KeyIntent): KeyPlan {
  const next = new Map(keys.map((k) => [k.kid, { ...k }]));
  const deleted = new Set<string>();
  const events: KeyEvent[] = [];

  for (const k of keys) {
    if (k.removesAt && k.removesAt <= t) {
      deleted.add(k.kid);
      events.push({ type: 'removed', kid: k.kid });
    }
  }

  if (intent.kind === 'revoke') {
    const k = next.get(intent.kid);
    if (!k || deleted.has(k.kid)) throw new NotFoundError(`no signing key with kid "${intent.kid}"`);
    if (k.revokedAt) {
      events.push({ type: 'already-revoked', kid: k.kid });
    } else {
      k.revokedAt = t;
      // The row stays (visible in `sigil keys list`) for one retention period, then goes.
      const audit = at(t, policy.retentionSeconds);
      k.removesAt = k.removesAt && k.removesAt < audit ? k.removesAt : audit;
      events.push({ type: 'revoked', kid: k.kid });
    }
  }

  const usable = (k: KeySchedule) => !deleted.has(k.kid) && !k.revokedAt && !(k.retiresAt && k.retiresAt <= t);

  if (intent.kind === 'rotate-now') {
    for (const k of next.values()) {
      if (!usable(k)) continue;
      if (k.activatesAt > t) {
        deleted.add(k.kid); // never signed anything: nothing depends on it
        events.push({ type: 'dropped', kid: k.kid });
      } else {
        k.retiresAt = t;
        k.removesAt = at(t, policy.retentionSeconds);
        events.push({ type: 'retired', kid: k.kid, at: t });
      }
    }
  }

  const chain = [...next.values()]
    .filter(usable)
    .sort((a, b) => +a.activatesAt - +b.activatesAt || a.generation - b.generation);
  let create: { activatesAt: Date } | undefined;

  if (!chain.some((k) => k.activatesAt <= t)) {
    const first = chain[0];
    if (first && intent.kind !== 'rotate-now') {
      first.activatesAt = t;
      events.push({ type: 'promoted', kid: first.kid, activatesAt: t });
    } else {
      create = { activatesAt: t };
    }
  } else {
    const newest = chain[chain.length - 1] as KeySchedule;
    if (newest.activatesAt > t) {
      if (intent.kind === 'rotate') events.push({ type: 'already-pending', kid: newest.kid, activatesAt: newest.activatesAt });
    } else if (intent.kind === 'rotate') {
      create = { activatesAt: at(t, policy.leadTimeSeconds) };
    } else {
      const scheduled = at(newest.activatesAt, policy.rotationIntervalSeconds);
      const earliest = at(t, policy.leadTimeSeconds);
      if (at(scheduled, -policy.leadTimeSeconds) <= t) create = { activatesAt: new Date(Math.max(+scheduled, +earliest)) };
    }
  }
  if (create) events.push({ type: 'created', activatesAt: create.activatesAt });

  chain.forEach((k, i) => {
    const successor = chain[i + 1]?.activatesAt ?? create?.activatesAt ?? null;
    k.retiresAt = successor;
    k.removesAt = successor && at(successor, policy.retentionSeconds);
  });

  const update = [...next.values()]
    .filter((k) => !deleted.has(k.kid))
    .filter((k) => {
      const old = keys.find((o) => o.kid === k.kid) as KeySchedule;
      return !(
        same(old.activatesAt, k.activatesAt) &&
        same(old.retiresAt, k.retiresAt) &&
        same(old.removesAt, k.removesAt) &&
        same(old.revokedAt, k.revokedAt)
      );
    })
    // At most one key may be open (no retires_at, not revoked): close before opening.
    .sort((a, b) => Number(a.retiresAt === null && !a.revokedAt) - Number(b.retiresAt === null && !b.revokedAt));

  return { delete: [...deleted], update, create, events };
}

import { createHash } from 'node:crypto';
import type { StoredKey } from './key-repository.js';
import { keyState } from './key-schedule.js';
import type { KeyChangeResult } from './rotation.js';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * A key as scripts and the admin API see it: its schedule and public facts, never key material
 * (neither half of the key: the public JWK is in the JWKS, the private one never leaves the row).
 */
export function keyJson(k: StoredKey, t: Date) {
  return {
    kid: k.kid,
    alg: k.alg,
    state: keyState(k, t),
    created_at: iso(k.createdAt),
    activates_at: iso(k.activatesAt),
    retires_at: iso(k.retiresAt),
    removes_at: iso(k.removesAt),
    revoked_at: iso(k.revokedAt),
    kek_id: k.encrypted.kekId,
  };
}
export type KeyJson = ReturnType<typeof keyJson>;

/** What a rotation or a revocation did, and the key set after it (oldest first, as stored). */
export function changeJson(result: KeyChangeResult, t: Date) {
  return {
    changed: result.changed,
    events: result.events.map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v instanceof Date ? iso(v) : v]))),
    keys: result.keys.map((k) => keyJson(k, t)),
  };
}

/** The repository lists keys oldest first; people and scripts read the newest first. */
export const newestFirst = (keys: readonly StoredKey[]) => [...keys].reverse();

const scheduleOf = (k: StoredKey) =>
  [k.kid, k.activatesAt, k.retiresAt, k.removesAt, k.revokedAt].map((v) => (v instanceof Date ? v.getTime() : v)).join('|');
const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

/** A key's version for ETags: its schedule is all that ever changes about a stored key. */
export const keyVersion = (k: StoredKey) => digest(scheduleOf(k));

/** The key set's version: any key created, rescheduled, revoked or removed changes it. */
export const keySetVersion = (keys: readonly StoredKey[]) => digest(keys.map(scheduleOf).join(';'));

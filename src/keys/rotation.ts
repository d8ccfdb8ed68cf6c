import type { KeyConfig } from '../config.js';
import { type Database, notify } from '../db/database.js';
import { ConflictError, isUniqueViolation, NotFoundError, PreconditionFailedError } from '../db/errors.js';
import { LOCKS } from '../db/locks.js';
import { encryptPrivateKey, findKeyEncryptionKey, type KeyEncryptionKeys } from './key-crypto.js';
import { createKeyRepository, type StoredKey } from './key-repository.js';
import { hasChanges, type KeyEvent, type KeyIntent, planKeyChanges } from './key-schedule.js';
import { keySetVersion, keyVersion } from './key-view.js';
import { generateSigningKey } from './signing-key.js';

/** Instances LISTEN here; every committed change to the key set NOTIFYs it. */
export const KEYS_CHANNEL = 'sigil_signing_keys';

export interface KeyChangeResult {
  changed: boolean;
  /** `created` events carry the new kid here. */
  events: Array<KeyEvent & { kid?: string }>;
  /** The key set after the change. */
  keys: StoredKey[];
}

export interface KeyRotation {
  /** The timer's step: first key, next key when due, removal of expired keys. */
  rotateIfDue(): Promise<KeyChangeResult>;
  /** `sigil keys rotate [--now]`; `expectedVersion`: only if the key set is still that one (keySetVersion). */
  rotate(o?: { now?: boolean; expectedVersion?: string | undefined }): Promise<KeyChangeResult>;
  /**
   * `sigil keys revoke KID`: out of the JWKS at once; a new key signs if it was the signing key.
   * `expectedVersion`: only if the key is still that one (keyVersion). NotFoundError for an unknown kid.
   */
  revoke(kid: string, o?: { expectedVersion?: string | undefined }): Promise<KeyChangeResult>;
}

/** A precondition on the keys as read under the lock: throws PreconditionFailedError when unmet. */
type KeyExpectation = (stored: StoredKey[]) => void;

export interface KeyRotationDeps {
  db: Database;
  keys: Pick<KeyConfig, 'alg' | 'rsaBits' | 'rotationIntervalSeconds' | 'leadTimeSeconds' | 'retentionSeconds'>;
  encryptionKeys: KeyEncryptionKeys;
  now?: () => Date;
}

const stale = (what: string) => new PreconditionFailedError(`${what} changed since that version was read`);

const expectSet = (version: string | undefined): KeyExpectation | undefined =>
  version === undefined
    ? undefined
    : (stored) => {
        if (keySetVersion(stored) !== version) throw stale('the signing keys');
      };

const expectKey = (kid: string, version: string | undefined): KeyExpectation | undefined =>
  version === undefined
    ? undefined
    : (stored) => {
        const k = stored.find((s) => s.kid === kid);
        // Unknown first: a 404 says more than a 412 about a kid that is not there.
        if (!k) throw new NotFoundError(`no signing key with kid "${kid}"`);
        if (keyVersion(k) !== version) throw stale('the signing key');
      };

/**
 * Applies life-cycle steps exactly once across every instance sharing the database: each step
 * runs in one transaction that first takes the signing-keys advisory lock, re-reads the keys and
 * plans from what it reads (so the second of two instances finds nothing left to do), and the
 * schema makes a duplicate next key impossible even without the lock (one open key, unique generation).
 * Times come from the injected clock, never from the database's now().
 */
export function createKeyRotation({ db, keys: policy, encryptionKeys, now = () => new Date() }: KeyRotationDeps): KeyRotation {
  async function apply(intent: KeyIntent, expect?: KeyExpectation): Promise<KeyChangeResult> {
    const t = now();
    try {
      return await db.transaction(async (tx) => {
        await tx.query('select pg_advisory_xact_lock($1)', [LOCKS.signingKeys]);
        const repo = createKeyRepository(tx);
        const stored = await repo.list();
        expect?.(stored);
        const plan = planKeyChanges(stored, t, policy, intent);
        if (!hasChanges(plan)) return { changed: false, events: plan.events, keys: stored };

        if (plan.create) {
          // Never add a key this KEK wraps next to keys that another KEK wraps: instances configured
          // with the other KEK could not use it. (A wrong key-encryption key stops here, not later.)
          // (Keys revoked or deleted by this very step don't count: revoking every key is how an
          // operator who lost the KEK starts over.)
          const gone = new Set([...plan.delete, ...plan.update.filter((u) => u.revokedAt).map((u) => u.kid)]);
          for (const k of stored) {
            if (!k.revokedAt && !gone.has(k.kid)) findKeyEncryptionKey(encryptionKeys, k.encrypted.kekId, k.kid);
          }
        }
        for (const kid of plan.delete) await repo.delete(kid);
        for (const u of plan.update) await repo.updateSchedule(u);
        const events: KeyChangeResult['events'] = plan.events.filter((e) => e.type !== 'created');
        if (plan.create) {
          const key = await generateSigningKey(policy.alg, policy.rsaBits);
          const generation = Math.max(0, ...stored.map((k) => k.generation)) + 1;
          await repo.insert({
            kid: key.kid,
            generation,
            alg: key.alg,
            publicJwk: key.publicJwk,
            encrypted: encryptPrivateKey(key.privateJwk, key.kid, encryptionKeys.current),
            createdAt: t,
            activatesAt: plan.create.activatesAt,
            retiresAt: null,
            removesAt: null,
            revokedAt: null,
          });
          events.push({ type: 'created', kid: key.kid, activatesAt: plan.create.activatesAt });
        }
        await notify(tx, KEYS_CHANNEL, String(t.getTime())); // delivered at commit
        return { changed: true, events, keys: await repo.list() };
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Only reachable if something wrote keys without the lock: the constraint kept the set sound.
      if (intent.kind === 'scheduled') return { changed: false, events: [], keys: await createKeyRepository(db).list() };
      throw new ConflictError('the signing keys changed at the same time elsewhere: run the command again', { cause: err });
    }
  }

  return {
    rotateIfDue: () => apply({ kind: 'scheduled' }),
    rotate: (o = {}) => apply({ kind: o.now ? 'rotate-now' : 'rotate' }, expectSet(o.expectedVersion)),
    revoke: (kid, o = {}) => apply({ kind: 'revoke', kid }, expectKey(kid, o.expectedVersion)),
  };
}

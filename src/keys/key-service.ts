import type { JWK } from 'jose';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { decryptPrivateKey, type KeyEncryptionKeys, KeyEncryptionKeyError } from './key-crypto.js';
import { createKeyRepository, type StoredKey } from './key-repository.js';
import { hasChanges, type KeySchedule, keyState, planKeyChanges } from './key-schedule.js';
import { createJwsSigner, type JwsSigner } from './jws-signer.js';
import { importVerificationKey, type VerificationKey, verifyAccessToken } from './jws-verifier.js';
import { createKeySet, type Jwks, type LoadedKey } from './key-set.js';
import { createKeyRotation, type KeyChangeResult, KEYS_CHANNEL, type KeyRotation } from './rotation.js';
import { type ChangeWatch, watchChanges } from '../db/change-watch.js';

/** What the token code and the JWKS route use. Requests only ever read keys held in memory. */
export interface KeyService {
  /** Compact JWS with protected header {alg, kid, typ: 'at+jwt'}; sets iat = now and exp = now + ttlSeconds (injected clock). Claims come fully formed otherwise (iss, sub, aud, jti, client_id, scope…). Uses the newest active key, imported once and kept in memory. */
  sign(claims: Record<string, unknown>, ttlSeconds: number): Promise<string>;
  /** Verifies signature against a currently published, non-revoked key (by kid) and typ at+jwt, issuer, exp with small clock skew; returns the payload or throws. For /introspect. Must be fast: no DB access, keys in memory. */
  verify(token: string): Promise<Record<string, unknown>>;
  /** Serialized JWKS body and its ETag, recomputed only when the key set changes. */
  jwks(): { body: string; etag: string };
  /** JWKS Cache-Control max-age in seconds. */
  readonly maxAgeSeconds: number;
  /** The key signing now, for metrics (kid and when it started signing). */
  signingKey(): { kid: string; activatesAt: Date } | undefined;
}

/** pino-compatible subset (Fastify's app.log fits). */
export interface KeyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface StartOptions {
  log?: KeyLog;
  /** LISTEN for changes made by other instances (default true). */
  listen?: boolean;
  /** Run rotation and reload every SIGIL_KEY_RELOAD_SECONDS (default true). */
  timer?: boolean;
}

/** The key service with its life-cycle controls, for server.ts, the CLI and tests. */
export interface ManagedKeyService extends KeyService {
  /**
   * Checks that the key-encryption key opens the stored keys (refusing to start otherwise),
   * performs any due rotation step (the very first start creates the first key, active at once)
   * and loads the keys into memory. After it, sign/verify/jwks work. No timers.
   */
  load(): Promise<void>;
  /** load(), then LISTEN and the timer. Call before the server listens. */
  start(options?: StartOptions): Promise<void>;
  /** One timer step: reload, then run the rotation transaction only if a step is due. */
  tick(): Promise<KeyChangeResult['events']>;
  /** Re-reads the key set; true when it changed. */
  reload(): Promise<boolean>;
  stop(): Promise<void>;
  /** Operator actions (rotate, rotate --now, revoke) through this instance; reloads after. */
  readonly rotation: KeyRotation;
  /** The longest ttlSeconds sign() accepts: what the key retention covers. */
  readonly maxTokenTtlSeconds: number;
}

export interface KeyServiceDeps {
  db: Database;
  config: Pick<Config, 'issuer' | 'keys'>;
  encryptionKeys: KeyEncryptionKeys;
  now?: () => Date;
}

const silent: KeyLog = { info() {}, warn() {}, error() {} };

/**
 * Signing keys for one Sigil instance.
 *
 *   const keys = createKeyService({ db, config, encryptionKeys: loadKeyEncryptionKeys(config) });
 *   await keys.start({ log });   // server: first key, load, LISTEN, timer
 *   await keys.load();           // tests: the same without timers (see test/helpers/keys.ts)
 *   await keys.stop();
 *
 * Private keys are decrypted and imported once per key; sign, verify and jwks never touch the
 * database, so the JWKS and introspection keep working while it is down. Every instance switches
 * keys by the clock at the stored activation instant, and reloads the set on NOTIFY (PostgreSQL)
 * and every reload interval (the safety net, and the only path for CLI changes on PGlite).
 */
const defaultNow = () => new Date();

export function createKeyService({ db, config, encryptionKeys, now = defaultNow }: KeyServiceDeps): ManagedKeyService {
  // The JWKS is the most requested answer: without an injected clock, read the time without
  // making a Date (bench: about 1% of its CPU).
  const nowMs = now === defaultNow ? Date.now : () => now().getTime();
  const policy = config.keys;
  const rotation = createKeyRotation({ db, keys: policy, encryptionKeys, now });
  const repo = createKeyRepository(db);
  const set = createKeySet();
  const imported = new Map<string, { verificationKey: VerificationKey; signer: JwsSigner | undefined }>();
  const maxTokenTtlSeconds = policy.retentionSeconds - policy.clockSkewSeconds - policy.reloadIntervalSeconds;
  let log = silent;
  let fingerprint: string | undefined;
  // Every stored row's schedule (revoked and removed ones too), for the timer's "anything due?" check.
  let schedules: KeySchedule[] = [];
  let reloading: Promise<boolean> | undefined;
  let reloadAgain = false;
  let watch: ChangeWatch | undefined;

  const fingerprintOf = (rows: StoredKey[]) =>
    rows
      .map((r) => [r.kid, r.activatesAt, r.retiresAt, r.removesAt, r.revokedAt].map((v) => (v instanceof Date ? v.getTime() : v)).join('|'))
      .join(';');

  // A key needs its private half while it may still sign.
  const maySign = (r: StoredKey, t: Date) => {
    const s = keyState(r, t);
    return s === 'pending' || s === 'active';
  };

  const importPrivate = (r: StoredKey): JwsSigner => createJwsSigner(r.alg, r.kid, decryptPrivateKey(r.encrypted, r.kid, encryptionKeys));

  async function loadRows(rows: StoredKey[], strict: boolean): Promise<void> {
    const t = now();
    const keys: LoadedKey[] = [];
    for (const r of rows) {
      const state = keyState(r, t);
      if (state === 'revoked' || state === 'removed') {
        imported.delete(r.kid); // drop the private key from memory as soon as it is out
        continue;
      }
      let cached = imported.get(r.kid);
      if (!cached) {
        cached = { verificationKey: importVerificationKey(r.publicJwk as JWK, r.alg, r.kid), signer: undefined };
        imported.set(r.kid, cached);
      }
      if (maySign(r, t) && !cached.signer) {
        try {
          cached.signer = importPrivate(r);
        } catch (err) {
          if (strict) throw err;
          log.error({ kid: r.kid, err: (err as Error).message }, 'cannot decrypt signing key: this instance will not sign with it');
        }
      }
      if (!maySign(r, t)) cached.signer = undefined;
      const { encrypted: _, createdAt: __, ...schedule } = r;
      keys.push({ ...schedule, ...cached });
    }
    for (const kid of imported.keys()) if (!rows.some((r) => r.kid === kid)) imported.delete(kid);
    set.replace(keys);
  }

  async function doReload(strict = false): Promise<boolean> {
    const rows = await repo.list();
    const fp = fingerprintOf(rows);
    if (fp === fingerprint) return false;
    await loadRows(rows, strict);
    schedules = rows;
    fingerprint = fp;
    return true;
  }

  /** Serialized: a notification during a reload runs one more reload after it. */
  function reload(): Promise<boolean> {
    if (reloading) {
      reloadAgain = true;
      return reloading;
    }
    reloading = (async () => {
      let changed = false;
      do {
        reloadAgain = false;
        changed = (await doReload()) || changed;
      } while (reloadAgain);
      return changed;
    })().finally(() => {
      reloading = undefined;
    });
    return reloading;
  }

  function logEvents(result: KeyChangeResult) {
    for (const e of result.events) log.info({ ...e }, `signing key ${e.type}`);
  }

  async function tick(): Promise<KeyChangeResult['events']> {
    await reload();
    // The cheap check first, from memory; the transaction re-checks under the lock.
    if (!hasChanges(planKeyChanges(schedules, now(), policy, { kind: 'scheduled' }))) return [];
    const result = await rotation.rotateIfDue();
    logEvents(result);
    // Also when another instance did the step first: what we hold is then stale.
    await reload();
    return result.events;
  }

  const afterChange = async (p: Promise<KeyChangeResult>) => {
    const result = await p;
    logEvents(result);
    if (result.changed) await reload();
    return result;
  };

  async function load() {
    // Before anything is written: a wrong key-encryption key must stop start-up, not leave a key
    // wrapped by the wrong KEK behind. Every stored key is opened once here, signing or not.
    const t = now();
    for (const r of await repo.list()) {
      if (keyState(r, t) !== 'revoked' && keyState(r, t) !== 'removed') decryptPrivateKey(r.encrypted, r.kid, encryptionKeys);
    }
    logEvents(await rotation.rotateIfDue());
    fingerprint = undefined;
    await doReload(true);
    if (!set.at(nowMs()).signingKey) throw new Error('no signing key is active after start-up');
  }

  function sign(claims: Record<string, unknown>, ttlSeconds: number): Promise<string> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > maxTokenTtlSeconds) {
      throw new RangeError(
        `token lifetime ${ttlSeconds}s is outside 1..${maxTokenTtlSeconds}s, what SIGIL_KEY_RETENTION_SECONDS covers`,
      );
    }
    const t = now();
    const key = set.at(t.getTime()).signingKey;
    if (!key) throw new Error('no signing key is active (the key service is not loaded, or every key was revoked)');
    if (!key.signer) {
      throw new KeyEncryptionKeyError(`signing key ${key.kid} cannot be decrypted by this instance's key-encryption key`);
    }
    const iat = Math.floor(t.getTime() / 1000);
    return key.signer.sign({ ...claims, iat, exp: iat + ttlSeconds });
  }

  function verify(token: string): Promise<Record<string, unknown>> {
    const t = now();
    const { published } = set.at(t.getTime());
    return verifyAccessToken(token, (kid) => published.get(kid)?.verificationKey, {
      issuer: config.issuer,
      typ: 'at+jwt',
      clockToleranceSeconds: policy.clockSkewSeconds,
      now: t,
    });
  }

  return {
    sign: (claims, ttlSeconds) => {
      try {
        return sign(claims, ttlSeconds);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    verify,
    jwks: (): Jwks => set.at(nowMs()).jwks,
    maxAgeSeconds: policy.jwksMaxAgeSeconds,
    maxTokenTtlSeconds,
    signingKey: () => {
      const key = set.at(nowMs()).signingKey;
      return key && { kid: key.kid, activatesAt: key.activatesAt };
    },
    rotation: {
      rotateIfDue: () => afterChange(rotation.rotateIfDue()),
      rotate: (o) => afterChange(rotation.rotate(o)),
      revoke: (kid, o) => afterChange(rotation.revoke(kid, o)),
    },
    load,
    reload,
    tick,
    async start(options = {}) {
      log = options.log ?? silent;
      await load();
      watch = await watchChanges(db, {
        channel: KEYS_CHANNEL,
        onNotify: () => {
          reload().catch((err: Error) => log.warn({ err: err.message }, 'signing key reload failed'));
        },
        // A change made between load() and LISTEN would otherwise wait for the timer.
        afterListen: reload,
        intervalMs: policy.reloadIntervalSeconds * 1000,
        onTimer: () =>
          tick().catch((err: Error) => log.warn({ err: err.message }, 'signing key rotation check failed; keeping the keys in memory')),
        ...(options.listen !== undefined && { listen: options.listen }),
        ...(options.timer !== undefined && { timer: options.timer }),
      });
    },
    async stop() {
      await watch?.stop();
      watch = undefined;
      await reloading?.catch(() => {});
    },
  };
}

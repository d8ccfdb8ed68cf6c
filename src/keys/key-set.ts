import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import type { JwsSigner } from './jws-signer.js';
import type { VerificationKey } from './jws-verifier.js';
import type { SigningAlg } from '../config.js';
import { isPublished, type KeySchedule, signingKeyAt } from './key-schedule.js';
import { type PublicJwk, publicJwk } from './signing-key.js';

/** A key held in memory: imported once, used for every request until it leaves the set. */
export interface LoadedKey extends KeySchedule {
  alg: SigningAlg;
  publicJwk: PublicJwk;
  verificationKey: VerificationKey;
  /** Undefined when the key can no longer sign (retired, revoked) or this instance cannot decrypt it. */
  signer: JwsSigner | undefined;
}

export interface Jwks {
  body: string;
  etag: string;
}

/** The key set as seen at one instant; valid for every instant in [validFrom, validUntil). */
export interface KeySetView {
  signingKey: LoadedKey | undefined;
  published: ReadonlyMap<string, LoadedKey>;
  jwks: Jwks;
  validFrom: number;
  validUntil: number;
}

export interface KeySet {
  replace(keys: LoadedKey[]): void;
  keys(): readonly LoadedKey[];
  /** Cheap on the request path: recomputed only when the keys change or a stored instant passes. */
  at(ms: number): KeySetView;
}

const boundaries = (k: KeySchedule) =>
  [k.activatesAt, k.retiresAt, k.removesAt, k.revokedAt].filter((d): d is Date => d !== null).map((d) => d.getTime());

export function serializeJwks(keys: readonly LoadedKey[]): Jwks {
  // Newest first; public members re-selected here too, whatever the row holds.
  const body = JSON.stringify({
    keys: [...keys].sort((a, b) => b.generation - a.generation).map((k) => publicJwk(k.publicJwk as JWK, k.kid, k.alg)),
  });
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
}

export function createKeySet(): KeySet {
  let all: LoadedKey[] = [];
  let view: KeySetView | undefined;
  // The JWKS body only changes when the published kids do (activation and retirement don't
  // change it), so it is serialized once per published set.
  let lastJwks: { kids: string; jwks: Jwks } | undefined;

  function compute(t: Date): KeySetView {
    const ms = t.getTime();
    let validFrom = Number.NEGATIVE_INFINITY;
    let validUntil = Number.POSITIVE_INFINITY;
    for (const b of all.flatMap(boundaries)) {
      if (b <= ms) validFrom = Math.max(validFrom, b);
      else validUntil = Math.min(validUntil, b);
    }
    const published = all.filter((k) => isPublished(k, t));
    const kids = published.map((k) => k.kid).join(' ');
    if (lastJwks?.kids !== kids) lastJwks = { kids, jwks: serializeJwks(published) };
    return {
      signingKey: signingKeyAt(all, t),
      published: new Map(published.map((k) => [k.kid, k])),
      jwks: lastJwks.jwks,
      validFrom,
      validUntil,
    };
  }

  return {
    replace(keys) {
      all = keys;
      view = undefined;
    },
    keys: () => all,
    at(ms) {
      if (!view || ms < view.validFrom || ms >= view.validUntil) view = compute(new Date(ms));
      return view;
    },
  };
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../../config.js';

export interface DpopNonces {
  /** The nonce to hand out now. */
  current(): string;
  /** True for the nonce of the current or the previous time step. */
  isValid(nonce: string): boolean;
}

/** A key for nonces that every instance sharing the key-encryption key derives alike. */
export function deriveDpopNonceKey(kek: Secret): Uint8Array {
  return createHmac('sha256', kek.reveal()).update('sigil dpop nonce key').digest();
}

/**
 * RFC 9449 §8 nonces with no state: an HMAC of the time step under a key all instances share, so
 * any instance accepts a nonce another handed out, with no database write. A nonce is good for
 * its own step and the next one (between one and two steps).
 */
export function createDpopNonces(key: Uint8Array, stepSeconds: number, now: () => Date): DpopNonces {
  const step = () => Math.floor(now().getTime() / 1000 / stepSeconds);
  const nonceFor = (n: number) => createHmac('sha256', key).update(`dpop-nonce:${n}`).digest('base64url').slice(0, 32);
  const cache = { step: Number.NaN, nonce: '' };
  const current = () => {
    const n = step();
    if (cache.step !== n) Object.assign(cache, { step: n, nonce: nonceFor(n) });
    return cache.nonce;
  };
  const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  return {
    current,
    isValid: (nonce) => same(nonce, current()) || same(nonce, nonceFor(step() - 1)),
  };
}

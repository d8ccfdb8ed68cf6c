import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { InvalidInputError } from '../db/errors.js';
import { verifyLegacyHash } from './legacy-hashes.js';

export interface Argon2Params {
  memoryCost: number; // KiB
  timeCost: number;
  parallelism: number;
  /** Hashes computed at once by this hasher (default: the number of CPUs); the others queue. */
  concurrency?: number;
}

export interface PasswordVerdict {
  ok: boolean;
  /** The hash was made with other parameters than the configured ones: store a fresh one. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<PasswordVerdict>;
  /** Same cost as a real verify, for users that do not exist, so timing does not tell them apart. */
  verifyDummy(password: string): Promise<void>;
}

export const MAX_PASSWORD_LENGTH = 1024;

/**
 * Runs at most `n` of the given tasks at once, the others in arrival order. For argon2: more
 * hashes at once than CPUs cannot finish sooner, but each holds its memory (19 MiB by default) and
 * a thread of libuv's pool, which WebCrypto signing and verifying need too; and the extra threads
 * compete with the event loop for the CPU (bench: jwks p99 under login load).
 */
export function createLimiter(n: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/** argon2id; argon2 runs on libuv's thread pool, so hashing never blocks the event loop. */
export function createPasswordHasher({ concurrency = availableParallelism(), ...params }: Argon2Params): PasswordHasher {
  const options = { type: argon2.argon2id as 2, ...params };
  const limit = createLimiter(concurrency);
  let dummyHash: Promise<string> | undefined;
  return {
    async hash(password) {
      if (password.length === 0) throw new InvalidInputError('the password must not be empty');
      if (password.length > MAX_PASSWORD_LENGTH) {
        throw new InvalidInputError(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`);
      }
      return limit(() => argon2.hash(password, options));
    },
    async verify(hash, password) {
      if (password.length > MAX_PASSWORD_LENGTH) return { ok: false, needsRehash: false };
      if (!hash.startsWith('$argon2')) {
        // An imported user's hash from the system before (legacy-hashes.ts): once it has been
        // checked, the password is known, and an argon2id hash takes its place.
        const ok = await limit(() => verifyLegacyHash(hash, password)).catch(() => false);
        return { ok, needsRehash: ok };
      }
      const ok = await limit(() => argon2.verify(hash, password)).catch(() => false);
      // argon2.needsRehash compares parameters, not the variant: an imported argon2i is replaced too.
      return { ok, needsRehash: ok && (!hash.startsWith('$argon2id$') || argon2.needsRehash(hash, options)) };
    },
    async verifyDummy(password) {
      dummyHash ??= limit(() => argon2.hash('sigil-dummy-password', options));
      const dummy = await dummyHash;
      await limit(() => argon2.verify(dummy, password.slice(0, MAX_PASSWORD_LENGTH))).catch(() => false);
    },
  };
}

import argon2 from 'argon2';
import { InvalidInputError } from '../db/errors.js';

export interface Argon2Params {
  memoryCost: number; // KiB
  timeCost: number;
  parallelism: number;
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

/** argon2id; argon2 runs on libuv's thread pool, so hashing never blocks the event loop. */
export function createPasswordHasher(params: Argon2Params): PasswordHasher {
  const options = { type: argon2.argon2id as 2, ...params };
  let dummyHash: Promise<string> | undefined;
  return {
    async hash(password) {
      if (password.length === 0) throw new InvalidInputError('the password must not be empty');
      if (password.length > MAX_PASSWORD_LENGTH) {
        throw new InvalidInputError(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`);
      }
      return argon2.hash(password, options);
    },
    async verify(hash, password) {
      if (password.length > MAX_PASSWORD_LENGTH) return { ok: false, needsRehash: false };
      const ok = await argon2.verify(hash, password).catch(() => false);
      return { ok, needsRehash: ok && argon2.needsRehash(hash, options) };
    },
    async verifyDummy(password) {
      dummyHash ??= argon2.hash('sigil-dummy-password', options);
      await argon2.verify(await dummyHash, password.slice(0, MAX_PASSWORD_LENGTH)).catch(() => false);
    },
  };
}

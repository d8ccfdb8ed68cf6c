import type { Database } from '../db/database.js';
import { LOCKS } from '../db/locks.js';
import { decryptPrivateKey, encryptPrivateKey, type KeyEncryptionKeys } from './key-crypto.js';
import { createKeyRepository } from './key-repository.js';

export interface RewrapResult {
  /** Keys now wrapped by the current KEK that were wrapped by an old one. */
  rewrapped: string[];
  /** Keys already wrapped by the current KEK. */
  current: string[];
}

/**
 * Re-encrypts every private key under the current key-encryption key (`sigil keys rewrap`), after
 * SIGIL_KEY_ENCRYPTION_KEY changed and the previous key moved to SIGIL_KEY_ENCRYPTION_KEYS_OLD.
 * All or nothing: one key that no configured KEK opens fails the whole run, naming the key.
 * Running instances are unaffected: they hold the decrypted keys already, by kid.
 */
export async function rewrapKeys(db: Database, keks: KeyEncryptionKeys): Promise<RewrapResult> {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [LOCKS.signingKeys]);
    const repo = createKeyRepository(tx);
    const result: RewrapResult = { rewrapped: [], current: [] };
    for (const k of await repo.list()) {
      if (k.encrypted.kekId === keks.current.id) {
        result.current.push(k.kid);
        continue;
      }
      const jwk = decryptPrivateKey(k.encrypted, k.kid, keks);
      await repo.rewrap(k.kid, k.encrypted.kekId, encryptPrivateKey(jwk, k.kid, keks.current));
      result.rewrapped.push(k.kid);
    }
    return result;
  });
}

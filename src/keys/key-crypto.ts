import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { ConfigError, type Secret } from '../config.js';

// Private signing keys at rest: AES-256-GCM under the key-encryption key (KEK), a fresh 96-bit
// nonce per encryption, and the kid as associated data, so a ciphertext copied into another row
// (or a row whose kid was edited) fails authentication instead of decrypting to the wrong key.

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface EncryptedPrivateKey {
  /** Ciphertext followed by the GCM tag. */
  ciphertext: Buffer;
  nonce: Buffer;
  /** Fingerprint of the KEK that wrapped it. */
  kekId: string;
}

/** A usable KEK: the bytes and their fingerprint. */
export interface KeyEncryptionKey {
  id: string;
  key: Secret;
}

/** The current KEK (encrypts) and older ones (still decrypt, for `sigil keys rewrap`). */
export interface KeyEncryptionKeys {
  current: KeyEncryptionKey;
  old: KeyEncryptionKey[];
  /** Where the current key came from, for messages: the variable or the file. */
  source: string;
}

/**
 * A KEK problem worded for the operator (one line, no crypto stack trace). It is a ConfigError
 * because the fix is always in the configuration: set the right key.
 */
export class KeyEncryptionKeyError extends ConfigError {
  override name = 'KeyEncryptionKeyError';
}

/** A short public fingerprint of a KEK: an HMAC of a fixed label, so it reveals nothing about the key. */
export function keyEncryptionKeyId(key: Secret): string {
  return createHmac('sha256', key.reveal()).update('sigil key-encryption-key id').digest('hex').slice(0, 16);
}

export function toKeyEncryptionKeys(current: Secret, old: Secret[] = [], source = 'SIGIL_KEY_ENCRYPTION_KEY'): KeyEncryptionKeys {
  const withId = (key: Secret) => ({ id: keyEncryptionKeyId(key), key });
  return { current: withId(current), old: old.map(withId), source };
}

export function encryptPrivateKey(jwk: JWK, kid: string, kek: KeyEncryptionKey): EncryptedPrivateKey {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek.key.reveal(), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext, nonce, kekId: kek.id };
}

/** The KEK that wrapped a stored key, or a KeyEncryptionKeyError naming what is missing. */
export function findKeyEncryptionKey(keks: KeyEncryptionKeys, kekId: string, kid: string): KeyEncryptionKey {
  const kek = [keks.current, ...keks.old].find((k) => k.id === kekId);
  if (kek) return kek;
  throw new KeyEncryptionKeyError(
    `signing key ${kid} was encrypted with key-encryption key ${kekId}, but ${keks.source} holds ${keks.current.id}` +
      `${keks.old.length ? ` and SIGIL_KEY_ENCRYPTION_KEYS_OLD holds ${keks.old.map((k) => k.id).join(', ')}` : ''}: ` +
      'set the key it was created with (or list it in SIGIL_KEY_ENCRYPTION_KEYS_OLD)',
  );
}

export function decryptPrivateKey(stored: EncryptedPrivateKey, kid: string, keks: KeyEncryptionKeys): JWK {
  const kek = findKeyEncryptionKey(keks, stored.kekId, kid);
  const body = stored.ciphertext.subarray(0, stored.ciphertext.length - TAG_BYTES);
  const tag = stored.ciphertext.subarray(stored.ciphertext.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek.key.reveal(), stored.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(tag);
    return JSON.parse(Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')) as JWK;
  } catch {
    // Deliberately without the cause: a GCM failure says nothing more useful, and the message is enough.
    throw new KeyEncryptionKeyError(
      `signing key ${kid} does not decrypt with key-encryption key ${kek.id}: the stored key was altered or belongs to another row`,
    );
  }
}

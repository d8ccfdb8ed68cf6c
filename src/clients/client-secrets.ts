import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

// Client secrets are generated here, 256 random bits each, so they cannot be guessed or found in a
// dictionary. For such secrets a single SHA-256 is as irreversible as any slow hash: slow hashes
// exist to protect low-entropy human passwords. Keeping the check to one SHA-256 is what keeps the
// client_credentials grant fast; a per-request argon2/bcrypt is what makes other servers slow.

export const CLIENT_SECRET_BYTES = 32;

export function generateClientSecret(): string {
  return randomBytes(CLIENT_SECRET_BYTES).toString('base64url');
}

export function hashClientSecret(secret: string): Buffer {
  // One-shot SHA-256 (of the UTF-8 bytes): about half the cost of a Hash object, on every request.
  return hash('sha256', secret, 'buffer');
}

/** True when `secret` matches one of the hashes; every hash is compared, in constant time. */
export function clientSecretMatches(secret: string, hashes: readonly (Buffer | null | undefined)[]): boolean {
  const candidate = hashClientSecret(secret);
  let match = false;
  for (const hash of hashes) {
    if (hash && hash.length === candidate.length && timingSafeEqual(hash, candidate)) match = true;
  }
  return match;
}

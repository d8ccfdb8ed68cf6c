import { constants, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import type { SigningAlg } from '../config.js';

/** How node:crypto signs and verifies one JWS algorithm (RFC 7518 §3). */
export interface JwsAlgorithm {
  /** The digest crypto.sign/verify take (null for Ed25519, which hashes internally). */
  digest: string | null;
  options: Omit<SignKeyObjectInput, 'key'>;
  /** node:crypto's name for the key type the algorithm needs, and the curve for EC. */
  keyType: string;
  curve?: string;
}

// §3.4: ECDSA signatures are R || S (IEEE P1363), not DER. §3.5: PSS with a salt as long as the
// digest.
export const JWS_ALGORITHMS: Readonly<Record<SigningAlg, JwsAlgorithm>> = {
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' }, keyType: 'ec', curve: 'prime256v1' },
  EdDSA: { digest: null, options: {}, keyType: 'ed25519' },
  RS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PADDING }, keyType: 'rsa' },
  PS256: {
    digest: 'sha256',
    options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
    keyType: 'rsa',
  },
};

/**
 * A JWS `alg` as Sigil names it: RFC 9864's fully-specified `Ed25519` is EdDSA on Ed25519, the only
 * EdDSA curve Sigil accepts, and what current libraries (oauth4webapi among them) write for an
 * Ed25519 key, in a JWS header and in a JWK alike.
 */
export const jwsAlgName = (alg: unknown): unknown => (alg === 'Ed25519' ? 'EdDSA' : alg);

/** Throws unless `key` is of the type `alg` needs (a P-256 key for ES256, Ed25519 for EdDSA…). */
export function assertKeyFits(key: KeyObject, alg: SigningAlg, kid: string): void {
  const a = JWS_ALGORITHMS[alg];
  if (key.asymmetricKeyType !== a.keyType || (a.curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== a.curve)) {
    throw new Error(`signing key ${kid} is not a ${alg} key`);
  }
}

export const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SigningAlg } from '../config.js';

/** What the JWKS carries for one key (RFC 7517/7518): public members, kid, alg and use. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: SigningAlg;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

export interface GeneratedSigningKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: PublicJwk;
  /** Only ever held in memory and handed to encryptPrivateKey. */
  privateJwk: JWK;
}

// The public members of each key type. Everything else (d, p, q, dp, dq, qi, k, oth…) is private
// or unknown and never leaves through the JWKS, whatever a row might contain.
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
  RSA: ['n', 'e'],
};

/** A JWK reduced to its public members, plus kid, alg and use. */
export function publicJwk(jwk: JWK, kid: string, alg: SigningAlg): PublicJwk {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error(`unsupported key type ${String(jwk.kty)}`);
  const source = jwk as Record<string, unknown>;
  const out: Record<string, unknown> = { kty: jwk.kty };
  for (const m of members) if (typeof source[m] === 'string') out[m] = source[m];
  return { ...(out as Pick<PublicJwk, 'kty'>), kid, alg, use: 'sig' };
}

/** A fresh key pair; the kid is its RFC 7638 thumbprint, so it is unique and stable. */
export async function generateSigningKey(alg: SigningAlg, rsaBits = 2048): Promise<GeneratedSigningKey> {
  const options = alg === 'RS256' || alg === 'PS256' ? { modulusLength: rsaBits } : alg === 'EdDSA' ? { crv: 'Ed25519' } : {};
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  return { kid, alg, publicJwk: publicJwk(pub, kid, alg), privateJwk: await exportJWK(privateKey) };
}

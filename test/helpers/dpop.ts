import { KeyObject, randomUUID, sign } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { TEST_ISSUER } from './app.js';

export const TOKEN_URL = `${TEST_ISSUER}/token`;

export interface ProofKey {
  alg: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
}

export async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' && { crv: 'Ed25519' }) });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey) };
}

export interface ProofOptions {
  htm?: unknown;
  htu?: unknown;
  iat?: unknown;
  jti?: unknown;
  nonce?: string;
  typ?: string;
  /** The header's jwk (default: the key's public JWK); `null` leaves it out. */
  jwk?: JWK | null;
  extraHeader?: Record<string, unknown>;
}

/** A DPoP proof (RFC 9449 §4.2) for POST /token, each part overridable to build a bad one. */
export async function makeProof(key: ProofKey, o: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: 'htm' in o ? o.htm : 'POST',
    htu: 'htu' in o ? o.htu : TOKEN_URL,
    iat: 'iat' in o ? o.iat : Math.floor(Date.now() / 1000),
    jti: 'jti' in o ? o.jti : randomUUID(),
    ...(o.nonce !== undefined && { nonce: o.nonce }),
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const jwk = o.jwk === null ? undefined : (o.jwk ?? key.publicJwk);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: o.typ ?? 'dpop+jwt', ...(jwk && { jwk }), ...o.extraHeader })
    .sign(key.privateKey);
}

/** An ES256 JWS signed as is, for headers jose refuses to produce (crit, say). */
export function signRaw(key: ProofKey, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc(header)}.${enc(claims)}`;
  const sig = sign('sha256', Buffer.from(input), { key: KeyObject.from(key.privateKey), dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

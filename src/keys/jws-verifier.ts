import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { errors, type JWK } from 'jose';
import { SIGNING_ALGS, type SigningAlg } from '../config.js';
import { assertKeyFits, JWS_ALGORITHMS } from './jws-algorithms.js';

/** A published key, ready to check signatures. */
export interface VerificationKey {
  alg: SigningAlg;
  publicKey: KeyObject;
}

export interface AccessTokenChecks {
  issuer: string;
  /** The `typ` header the token must carry (RFC 9068 §2.1: at+jwt). */
  typ: string;
  clockToleranceSeconds: number;
  now: Date;
}

/** A public JWK as a node:crypto key, refused when it does not fit the algorithm. */
export function importVerificationKey(publicJwk: JWK, alg: SigningAlg, kid: string): VerificationKey {
  const publicKey = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  assertKeyFits(publicKey, alg, kid);
  return { alg, publicKey };
}

const SEGMENT = /^[\w-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A segment's JSON object, or the error `refuse` makes when it is not base64url UTF-8 JSON of an object. */
function objectOf(segment: string, refuse: () => Error): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    throw refuse();
  }
  if (!isObject(value)) throw refuse();
  return value;
}
// As jose compares them: "at+jwt" and "application/at+jwt" are the same type (RFC 7515 §4.1.9).
const normalizeTyp = (typ: string) => (typ.includes('/') ? typ.toLowerCase() : `application/${typ.toLowerCase()}`);

export function checkSignature(key: VerificationKey, signingInput: string, signature: string): Promise<boolean> {
  const { digest, options } = JWS_ALGORITHMS[key.alg];
  return new Promise((resolve) => {
    try {
      verify(digest, Buffer.from(signingInput, 'utf8'), { key: key.publicKey, ...options }, Buffer.from(signature, 'base64url'), (err, ok) =>
        resolve(!err && ok),
      );
    } catch {
      resolve(false); // a signature of the wrong length for the key, say
    }
  });
}

function numericDate(claims: Record<string, unknown>, name: string, required: boolean): number | undefined {
  const value = claims[name];
  if (value === undefined && !required) return undefined;
  if (value === undefined) throw new errors.JWTClaimValidationFailed(`missing required "${name}" claim`, claims, name, 'missing');
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new errors.JWTClaimValidationFailed(`"${name}" claim must be a number`, claims, name, 'invalid');
  }
  return value;
}

/**
 * Verifies one of Sigil's access tokens (RFC 9068) on node:crypto, and returns its claims: a
 * compact JWS whose header names a published key by kid and that key's algorithm, typ at+jwt, no
 * extensions (crit); then, once the signature holds, a claims object with our issuer, a numeric
 * exp not past (within the tolerance), a numeric iat, and nbf, if any, reached. jose's jwtVerify
 * does the same through WebCrypto, at about four times the event-loop time per token (measured
 * for ES256: 82-96 µs against 21-23 µs), which made it most of an introspection's cost. Failures
 * throw jose's error classes, so callers and tests see the codes jose would give.
 */
export async function verifyAccessToken(
  token: string,
  keyFor: (kid: string) => VerificationKey | undefined,
  checks: AccessTokenChecks,
): Promise<Record<string, unknown>> {
  const parts = token.split('.');
  const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
  if (parts.length !== 3 || !SEGMENT.test(headerPart) || !SEGMENT.test(payloadPart) || !SEGMENT.test(signaturePart)) {
    throw new errors.JWSInvalid('Invalid Compact JWS');
  }
  const header = objectOf(headerPart, () => new errors.JWSInvalid('the protected header must be base64url-encoded UTF-8 JSON of an object'));
  // RFC 7515 §4.1.11: an extension the verifier does not understand must be refused. Sigil
  // understands none (b64 with it, RFC 7797, included).
  if (header.crit !== undefined || header.b64 !== undefined) throw new errors.JOSENotSupported('JWS extensions (crit, b64) are not supported');
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string' || !(SIGNING_ALGS as readonly string[]).includes(alg)) {
    throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  }
  const key = typeof kid === 'string' ? keyFor(kid) : undefined;
  // The key's own algorithm, never the one the header asks for (no algorithm confusion).
  if (!key || key.alg !== alg) throw new errors.JWKSNoMatchingKey();
  if (!(await checkSignature(key, `${headerPart}.${payloadPart}`, signaturePart))) throw new errors.JWSSignatureVerificationFailed();

  const claims = objectOf(payloadPart, () => new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object'));
  if (typeof typ !== 'string' || normalizeTyp(typ) !== normalizeTyp(checks.typ)) {
    throw new errors.JWTClaimValidationFailed('unexpected "typ" JWT header value', claims, 'typ', 'check_failed');
  }
  if (claims.iss !== checks.issuer) throw new errors.JWTClaimValidationFailed('unexpected "iss" claim value', claims, 'iss', 'check_failed');
  const now = Math.floor(checks.now.getTime() / 1000);
  const tolerance = checks.clockToleranceSeconds;
  numericDate(claims, 'iat', true);
  const nbf = numericDate(claims, 'nbf', false);
  if (nbf !== undefined && nbf > now + tolerance) {
    throw new errors.JWTClaimValidationFailed('"nbf" claim timestamp check failed', claims, 'nbf', 'check_failed');
  }
  const exp = numericDate(claims, 'exp', true) as number;
  if (exp <= now - tolerance) throw new errors.JWTExpired('"exp" claim timestamp check failed', claims, 'exp', 'check_failed');
  return claims;
}

import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { z } from 'zod';
import { SIGNING_ALGS } from '../config.js';
import { jwsAlgName } from '../keys/jws-algorithms.js';
import type { PublicJwk } from './types.js';

// The public keys a private_key_jwt client registers (RFC 7517), whether inline or served at its
// jwks_uri. Only asymmetric signature keys Sigil can check (ES256 on P-256, EdDSA on Ed25519, RS256
// and PS256 on RSA ≥ 2048 bits), and only their public members: a JWK carrying a private member is
// refused outright, since whoever sent it has leaked the very key that proves the client.

/** The JWS algorithms a client assertion may use (never none, never HMAC). */
export const ASSERTION_ALGS = SIGNING_ALGS;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const MAX_KEYS = 20;
const b64url = z.string().min(1).max(1024).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
const kid = z.string().min(1).max(255).regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

const JwkSchema = z
  .looseObject({
    kty: z.enum(['EC', 'OKP', 'RSA'], { error: 'kty must be EC, OKP or RSA (asymmetric signature keys only)' }),
    kid: kid.optional(),
    alg: z.enum(ASSERTION_ALGS, { error: `alg must be one of ${ASSERTION_ALGS.join(', ')}` }).optional(),
    use: z.literal('sig', { error: 'use must be sig' }).optional(),
    crv: z.string().optional(),
    x: b64url.optional(),
    y: b64url.optional(),
    n: b64url.optional(),
    e: b64url.optional(),
  })
  .superRefine((k, ctx) => {
    const leaked = PRIVATE_MEMBERS.filter((m) => m in k);
    if (leaked.length) {
      ctx.addIssue({ code: 'custom', message: `holds private key members (${leaked.join(', ')}): register the public key only` });
      return;
    }
    const fits =
      (k.kty === 'EC' && k.crv === 'P-256' && k.x && k.y && (k.alg ?? 'ES256') === 'ES256') ||
      (k.kty === 'OKP' && k.crv === 'Ed25519' && k.x && jwsAlgName(k.alg ?? 'EdDSA') === 'EdDSA') ||
      (k.kty === 'RSA' && k.n && k.e && (k.alg === undefined || k.alg === 'RS256' || k.alg === 'PS256'));
    if (!fits) {
      ctx.addIssue({ code: 'custom', message: 'must be a P-256 (ES256), Ed25519 (EdDSA) or RSA (RS256, PS256) public key whose alg, if any, fits it' });
      return;
    }
    try {
      const key = createPublicKey({ key: publicMembers(k) as JsonWebKey, format: 'jwk' });
      if (k.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
        ctx.addIssue({ code: 'custom', message: 'RSA keys must have at least 2048 bits' });
      }
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid public key' });
    }
  })
  .transform(publicMembers);

/** A JWK reduced to the members that describe the public key (x5c, key_ops and the like dropped). */
function publicMembers(k: Record<string, unknown>): PublicJwk {
  const names = ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y', 'n', 'e'];
  return Object.fromEntries(names.filter((n) => k[n] !== undefined).map((n) => [n, k[n]]));
}

export const PublicJwksSchema = z
  .object({ keys: z.array(JwkSchema).min(1, 'must hold at least one key').max(MAX_KEYS, `holds at most ${MAX_KEYS} keys`) })
  .refine((s) => {
    const kids = s.keys.flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : []));
    return new Set(kids).size === kids.length;
  }, 'each kid must be unique');

export type PublicJwks = z.output<typeof PublicJwksSchema>;

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Where a client's keys may be fetched from: https only, so nobody on the path can substitute keys;
 * plain http only to a loopback address and only when the operator allows it (development and tests,
 * SIGIL_CLIENT_JWKS_ALLOW_HTTP_LOOPBACK). No credentials or fragment in the URL.
 */
export function jwksUriSchema(allowHttpLoopback: boolean) {
  return z
    .url({ protocol: /^https?$/, error: 'must be an https URL' })
    .max(2048)
    .refine((u) => {
      const url = new URL(u);
      return !url.username && !url.password && !url.hash;
    }, 'must not contain credentials or a fragment')
    .refine((u) => {
      const url = new URL(u);
      return url.protocol === 'https:' || (allowHttpLoopback && LOOPBACK.has(url.hostname));
    }, allowHttpLoopback ? 'must be https (http only to 127.0.0.1, [::1] or localhost)' : 'must be https');
}

/** Whether a URL may be fetched under the same rule (checked again at fetch time: the rule may have changed). */
export const jwksUriAllowed = (uri: string, allowHttpLoopback: boolean) => jwksUriSchema(allowHttpLoopback).safeParse(uri).success;

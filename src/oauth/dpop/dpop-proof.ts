import { createHash, createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { SIGNING_ALGS, type SigningAlg } from '../../config.js';
import { assertKeyFits, JWS_ALGORITHMS, jwsAlgName } from '../../keys/jws-algorithms.js';

/** Why a proof was refused: one stable code per RFC 9449 §4.3 check (for logs and tests; clients get one description). */
export type DpopProofFailure =
  | 'malformed'
  | 'typ'
  | 'alg'
  | 'jwk'
  | 'signature'
  | 'jti'
  | 'htm'
  | 'htu'
  | 'iat'
  | 'crit';

export class DpopProofError extends Error {
  override name = 'DpopProofError';
  constructor(readonly reason: DpopProofFailure) {
    super(`DPoP proof refused: ${reason}`);
  }
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key, base64url. */
  jkt: string;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  nonce: string | undefined;
}

export interface DpopProofChecks {
  /** The method and URL the proof must name (htm, htu). */
  method: string;
  url: string;
  /** How old a proof may be, and how far either way clocks may differ, in seconds. */
  windowSeconds: number;
  clockSkewSeconds: number;
  now: Date;
}

export const DPOP_ALGS: readonly SigningAlg[] = SIGNING_ALGS;
// RFC 7517/7518 private (and symmetric) members: a proof's jwk must carry none of them.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
// RFC 7638 §3.2: the required members of each key type, in lexicographic order.
const THUMBPRINT_MEMBERS: Record<string, string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };
const SEGMENT = /^[\w-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function objectOf(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    throw new DpopProofError('malformed');
  }
  if (!isObject(value)) throw new DpopProofError('malformed');
  return value;
}

/** RFC 7638 thumbprint of a public JWK (its required members only, in order, no whitespace). */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)];
  if (!members || members.some((m) => typeof jwk[m] !== 'string')) throw new DpopProofError('jwk');
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

// RFC 3986 §6.2.2: percent-encodings of unreserved characters decoded, the others upper-cased.
const normalizePercent = (path: string) =>
  path.replace(/%[0-9a-fA-F]{2}/g, (m) => {
    const c = String.fromCharCode(parseInt(m.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });

/**
 * §4.3 item 9: htu compared without query and fragment, after syntax- and scheme-based
 * normalisation (RFC 3986 §6.2.2, §6.2.3): WHATWG URL parsing lower-cases scheme and host, drops a
 * default port and resolves dot segments; percent-encodings are normalised here.
 */
export function normalizeHtu(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  return `${u.protocol}//${u.host}${normalizePercent(u.pathname || '/')}`;
}

// The endpoint's own URL is one string for the life of the process: normalised once, not per proof.
const normalizedEndpoints = new Map<string, string | undefined>();

/** htu names `url` (§4.3 item 9). A client that sends the URL exactly as the metadata gives it needs no parsing. */
function sameHtu(htu: string, url: string): boolean {
  let endpoint = normalizedEndpoints.get(url);
  if (endpoint === undefined && !normalizedEndpoints.has(url)) {
    endpoint = normalizeHtu(url);
    if (normalizedEndpoints.size < 16) normalizedEndpoints.set(url, endpoint);
  }
  if (endpoint === undefined) return false;
  return htu === url || normalizeHtu(htu) === endpoint;
}

interface ProofHeader {
  alg: SigningAlg;
  key: KeyObject;
  jkt: string;
}

// A client signs every proof with one key, so its proofs share one header segment: its parsed,
// checked and imported form is kept (bounded, oldest out first), and a proof then costs one
// signature check rather than a JSON parse, a key import and a thumbprint as well.
const HEADER_CACHE_SIZE = 1000;
const headers = new Map<string, ProofHeader>();

function proofHeader(segment: string): ProofHeader {
  const cached = headers.get(segment);
  if (cached) return cached;
  const header = objectOf(segment);
  if (header.typ !== 'dpop+jwt') throw new DpopProofError('typ');
  const alg = jwsAlgName(header.alg);
  if (typeof alg !== 'string' || !(DPOP_ALGS as readonly string[]).includes(alg)) throw new DpopProofError('alg');
  if (header.crit !== undefined || header.b64 !== undefined) throw new DpopProofError('crit');
  const key = importProofKey(header.jwk, alg as SigningAlg);
  const parsed = { alg: alg as SigningAlg, key, jkt: jwkThumbprint(header.jwk as Record<string, unknown>) };
  if (headers.size >= HEADER_CACHE_SIZE) headers.delete(headers.keys().next().value as string);
  headers.set(segment, parsed);
  return parsed;
}

function importProofKey(jwk: unknown, alg: SigningAlg): KeyObject {
  if (!isObject(jwk) || PRIVATE_MEMBERS.some((m) => m in jwk)) throw new DpopProofError('jwk');
  try {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    assertKeyFits(key, alg, 'dpop');
    return key;
  } catch {
    throw new DpopProofError('jwk');
  }
}

function signatureHolds(key: KeyObject, alg: SigningAlg, signingInput: string, signature: string): Promise<boolean> {
  const { digest, options } = JWS_ALGORITHMS[alg];
  return new Promise((resolve) => {
    try {
      verify(digest, Buffer.from(signingInput, 'utf8'), { key, ...options }, Buffer.from(signature, 'base64url'), (err, ok) =>
        resolve(!err && ok),
      );
    } catch {
      resolve(false);
    }
  });
}

/**
 * RFC 9449 §4.3 checks 2-11 except replay and nonce, which need state (the caller's): one compact
 * JWS; typ dpop+jwt; an allowed asymmetric alg; a public jwk fitting it; the signature with that
 * key (node:crypto, as src/keys/jws-verifier.ts, for speed); then jti, htm, htu and iat.
 */
export async function verifyDpopProof(proof: string, c: DpopProofChecks): Promise<DpopProof> {
  const parts = proof.split('.');
  const [h = '', p = '', s = ''] = parts;
  if (parts.length !== 3 || !SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) throw new DpopProofError('malformed');
  const { alg, key, jkt } = proofHeader(h);
  if (!(await signatureHolds(key, alg, `${h}.${p}`, s))) throw new DpopProofError('signature');

  const claims = objectOf(p);
  const { jti, htm, htu, iat, nonce } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 255) throw new DpopProofError('jti');
  if (htm !== c.method) throw new DpopProofError('htm');
  if (typeof htu !== 'string' || !sameHtu(htu, c.url)) throw new DpopProofError('htu');
  const now = c.now.getTime() / 1000;
  if (typeof iat !== 'number' || !Number.isFinite(iat) || iat > now + c.clockSkewSeconds || iat < now - c.windowSeconds - c.clockSkewSeconds) {
    throw new DpopProofError('iat');
  }
  return { jkt, jti, iat, nonce: typeof nonce === 'string' ? nonce : undefined };
}

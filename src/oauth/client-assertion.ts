import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Client, PublicJwk } from '../clients/types.js';
import { ASSERTION_ALGS, jwksUriAllowed, PublicJwksSchema } from '../clients/public-jwks.js';
import type { SigningAlg } from '../config.js';
import { checkSignature } from '../keys/jws-verifier.js';
import { jwsAlgName } from '../keys/jws-algorithms.js';
import { OAuthError } from './errors.js';
import type { SpentAssertions } from '../clients/spent-assertions.js';
import { storableText } from '../db/errors.js';

export { createSpentAssertions, type SpentAssertions } from '../clients/spent-assertions.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_ASSERTION_LENGTH = 8192;
const SEGMENT = /^[\w-]+$/;
const refuse = (why: string) => new OAuthError('invalid_client', `client assertion refused: ${why}`);

export interface AssertionSettings {
  issuer: string;
  tokenEndpoint: string;
  maxAgeSeconds: number;
  clockSkewSeconds: number;
  allowHttpLoopbackJwksUri: boolean;
}

/** The unverified iss/sub of an assertion: how the client is found (RFC 7523 §3). */
export function assertionSubject(assertion: string): string {
  if (assertion.length > MAX_ASSERTION_LENGTH) throw refuse('too long');
  const parts = assertion.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw refuse('not a compact JWS');
  const claims = decode(parts[1] as string);
  if (typeof claims.sub !== 'string' || claims.iss !== claims.sub) throw refuse('iss and sub must both be the client_id');
  return claims.sub;
}

function decode(segment: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw refuse('a segment is not base64url JSON of an object');
}

interface ImportedKey {
  kid: string | undefined;
  alg: SigningAlg | undefined;
  kty: string;
  publicKey: KeyObject;
}

const ALG_KTY: Record<SigningAlg, string> = { ES256: 'EC', EdDSA: 'OKP', RS256: 'RSA', PS256: 'RSA' };

function importKeys(keys: PublicJwk[]): ImportedKey[] {
  return keys.map((k) => ({
    kid: typeof k.kid === 'string' ? k.kid : undefined,
    alg: jwsAlgName(k.alg) as SigningAlg | undefined,
    kty: String(k.kty),
    publicKey: createPublicKey({ key: k as JsonWebKey, format: 'jwk' }),
  }));
}


export interface JwksFetcher {
  /** The keys at `uri`; `refresh` asks for a refetch (an unknown kid), granted at most every few seconds. */
  keys(uri: string, refresh: boolean): Promise<ImportedKey[]>;
}

const FETCH_TIMEOUT_MS = 3000;
const MAX_JWKS_BYTES = 64 * 1024;
const MIN_CACHE_S = 60;
const MAX_CACHE_S = 86400;
const DEFAULT_CACHE_S = 300;
const REFETCH_INTERVAL_MS = 10_000;
const MAX_URIS = 1000;

/**
 * Fetches clients' jwks_uri documents: a short timeout, a size cap, no redirects, and a bounded cache
 * that honours Cache-Control max-age within [1 min, 1 day]. Every failure is invalid_client.
 */
export function createJwksFetcher(o: { allowHttpLoopback: boolean; now?: () => number }): JwksFetcher {
  const now = o.now ?? (() => performance.now());
  const cache = new Map<string, { keys: ImportedKey[]; until: number; refetchedAt: number }>();
  const inflight = new Map<string, Promise<ImportedKey[]>>();

  async function fetchKeys(uri: string, refetch: boolean): Promise<ImportedKey[]> {
    if (!jwksUriAllowed(uri, o.allowHttpLoopback)) throw refuse('the client jwks_uri is not an allowed URL');
    let res: Response;
    try {
      res = await fetch(uri, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
    } catch {
      throw refuse('the client jwks_uri could not be fetched');
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw refuse('the client jwks_uri did not answer 200');
    }
    const body = await readCapped(res).catch(() => undefined);
    if (body === undefined) throw refuse('the client jwks_uri document is too large or unreadable');
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      throw refuse('the client jwks_uri document is not JSON');
    }
    const parsed = PublicJwksSchema.safeParse(doc);
    if (!parsed.success) throw refuse('the client jwks_uri document is not a valid public JWKS');
    const maxAge = /(?:^|,)\s*max-age=(\d+)/i.exec(res.headers.get('cache-control') ?? '')?.[1];
    const seconds = Math.min(MAX_CACHE_S, Math.max(MIN_CACHE_S, maxAge === undefined ? DEFAULT_CACHE_S : Number(maxAge)));
    const keys = importKeys(parsed.data.keys);
    const t = now();
    const previous = cache.get(uri);
    cache.delete(uri);
    cache.set(uri, { keys, until: t + seconds * 1000, refetchedAt: refetch ? t : (previous?.refetchedAt ?? Number.NEGATIVE_INFINITY) });
    if (cache.size > MAX_URIS) cache.delete(cache.keys().next().value as string);
    return keys;
  }

  return {
    async keys(uri, refresh) {
      const hit = cache.get(uri);
      const t = now();
      // An unknown kid refetches at once, but at most once per REFETCH_INTERVAL_MS per URI.
      if (hit && t < hit.until && (!refresh || t - hit.refetchedAt < REFETCH_INTERVAL_MS)) return hit.keys;
      let p = inflight.get(uri);
      if (!p) {
        p = fetchKeys(uri, hit !== undefined && refresh).finally(() => inflight.delete(uri));
        inflight.set(uri, p);
      }
      return p;
    },
  };
}

async function readCapped(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_JWKS_BYTES) throw new Error('too large');
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_JWKS_BYTES) {
      await reader.cancel();
      throw new Error('too large');
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
}

export type VerifyAssertion = (client: Client, assertion: string, now: Date) => Promise<void>;

/**
 * RFC 7523 §3 checks of a client assertion, for a client already found by its iss/sub. Each
 * failure is invalid_client with a fixed description; the jti is spent last, only once the
 * signature and every claim hold, so nobody can burn another client's jti's.
 */
export function createAssertionVerifier(s: AssertionSettings, spent: SpentAssertions, fetcher: JwksFetcher): VerifyAssertion {
  // Imported inline keys per client, keyed by the JWKS object itself: a changed client is a new object.
  const inline = new WeakMap<object, ImportedKey[]>();
  const inlineKeys = (jwks: { keys: PublicJwk[] }) => {
    let keys = inline.get(jwks);
    if (!keys) inline.set(jwks, (keys = importKeys(jwks.keys)));
    return keys;
  };
  const audiences = new Set([s.issuer, s.tokenEndpoint]);

  return async (client, assertion, now) => {
    const [h = '', p = '', sig = ''] = assertion.split('.');
    const header = decode(h);
    if (header.crit !== undefined || header.b64 !== undefined) throw refuse('JWS extensions (crit, b64) are not supported');
    const alg = jwsAlgName(header.alg);
    if (typeof alg !== 'string' || !(ASSERTION_ALGS as readonly string[]).includes(alg)) {
      throw refuse(`alg must be one of ${ASSERTION_ALGS.join(', ')}`);
    }
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    const fits = (k: ImportedKey) => (kid === undefined || k.kid === kid) && (k.alg ?? alg) === alg && k.kty === ALG_KTY[alg as SigningAlg];
    let candidates: ImportedKey[];
    if (client.jwks) candidates = inlineKeys(client.jwks).filter(fits);
    else if (client.jwksUri) {
      candidates = (await fetcher.keys(client.jwksUri, false)).filter(fits);
      if (candidates.length === 0 && kid !== undefined) candidates = (await fetcher.keys(client.jwksUri, true)).filter(fits);
    } else candidates = [];
    if (candidates.length === 0) throw refuse('no registered key of the client matches the kid and alg');
    let verified = false;
    for (const k of candidates) {
      if (await checkSignature({ alg: alg as SigningAlg, publicKey: k.publicKey }, `${h}.${p}`, sig)) {
        verified = true;
        break;
      }
    }
    if (!verified) throw refuse('signature does not verify with the client keys');

    const claims = decode(p);
    if (claims.iss !== client.clientId || claims.sub !== client.clientId) throw refuse('iss and sub must both be the client_id');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => typeof a === 'string' && audiences.has(a))) throw refuse('aud must contain the issuer or the token endpoint URL');
    const t = Math.floor(now.getTime() / 1000);
    const skew = s.clockSkewSeconds;
    const exp = claims.exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw refuse('exp is required');
    if (exp <= t - skew) throw refuse('expired');
    if (exp > t + s.maxAgeSeconds + skew) throw refuse('exp is too far ahead');
    for (const name of ['iat', 'nbf'] as const) {
      const v = claims[name];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw refuse(`${name} must be a number`);
      if (v > t + skew) throw refuse(`${name} is in the future`);
    }
    const jti = claims.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 255) throw refuse('jti is required (1 to 255 characters)');
    if (!storableText(jti)) throw refuse('jti must be text without U+0000 or unpaired surrogates');
    if (!(await spent.spend(client.clientId, jti, new Date(exp * 1000)))) throw refuse('this jti was already used');
  };
}

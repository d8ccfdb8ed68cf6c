import type { FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../errors.js';
import type { DpopNonces } from './dpop-nonce.js';
import { type DpopProof, DpopProofError, verifyDpopProof } from './dpop-proof.js';
import type { DpopReplayStore } from '../../tokens/dpop-proof-jtis.js';

export interface DpopCheckDeps {
  replay: DpopReplayStore;
  /** Set when SIGIL_DPOP_NONCE is on: every proof must carry a current nonce (§8). */
  nonces: DpopNonces | undefined;
  /** The token endpoint's URL, as clients reach it (issuer-based). */
  tokenEndpoint: string;
  windowSeconds: number;
  clockSkewSeconds: number;
  now: () => Date;
}

/** The proof's key, when the request carried a valid proof: tokens are bound to it. */
export interface DpopBinding {
  jkt: string;
}

export interface DpopCheck {
  /** Undefined when the request has no DPoP header; throws OAuthError for a bad proof. */
  (req: FastifyRequest, reply: FastifyReply): Promise<DpopBinding | undefined>;
  /** Adds a fresh DPoP-Nonce to a response when nonces are on. */
  nonceHeader(reply: FastifyReply): void;
}

// One description for every failed check: precise enough to act on, never echoing the proof.
const INVALID = 'the DPoP proof is invalid';

/** How many DPoP headers came: Node joins repeated unknown headers, so count the raw ones. */
function dpopHeaders(req: FastifyRequest): string[] {
  const raw = req.raw.rawHeaders;
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'dpop') values.push(raw[i + 1] ?? '');
  return values;
}

/**
 * RFC 9449 §4.3 at the token endpoint: exactly one DPoP header; the stateless checks
 * (dpop-proof.ts); the nonce when required (§8); then the jti recorded once for the whole
 * deployment, which is the only database work (one insert).
 */
export function createDpopCheck(d: DpopCheckDeps): DpopCheck {
  const useNonce = (reply: FastifyReply, description: string) => {
    if (d.nonces) reply.header('dpop-nonce', d.nonces.current());
    return new OAuthError('use_dpop_nonce', description);
  };
  const check = (async (req, reply) => {
    if (req.headers.dpop === undefined) return undefined;
    const headers = dpopHeaders(req);
    if (headers.length !== 1) throw new OAuthError('invalid_dpop_proof', 'exactly one DPoP header is allowed');
    const now = d.now();
    let proof: DpopProof;
    try {
      proof = await verifyDpopProof(headers[0] as string, {
        method: 'POST',
        url: d.tokenEndpoint,
        windowSeconds: d.windowSeconds,
        clockSkewSeconds: d.clockSkewSeconds,
        now,
      });
    } catch (err) {
      if (err instanceof DpopProofError) {
        req.log.info({ dpop_failure: err.reason }, 'DPoP proof refused');
        throw new OAuthError('invalid_dpop_proof', INVALID);
      }
      throw err;
    }
    if (d.nonces) {
      if (proof.nonce === undefined) throw useNonce(reply, 'the authorization server requires a nonce in the DPoP proof');
      if (!d.nonces.isValid(proof.nonce)) throw useNonce(reply, 'the DPoP proof nonce is not current: use the one in the DPoP-Nonce header');
    }
    const expiresAt = new Date((proof.iat + d.windowSeconds + d.clockSkewSeconds) * 1000);
    if (!(await d.replay.remember(proof.jkt, proof.jti, expiresAt))) {
      req.log.info({ dpop_failure: 'replay' }, 'DPoP proof refused');
      throw new OAuthError('invalid_dpop_proof', 'the DPoP proof was already used');
    }
    return { jkt: proof.jkt };
  }) as DpopCheck;
  check.nonceHeader = (reply) => {
    if (d.nonces) reply.header('dpop-nonce', d.nonces.current());
  };
  return check;
}

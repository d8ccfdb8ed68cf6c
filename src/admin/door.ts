import type { FastifyRequest } from 'fastify';
import { createBearerVerifier, type SignatureVerifier as TokenVerifier } from '../tokens/bearer-verifier.js';
import type { AccessTokenRevocations } from '../tokens/access-token-revocations.js';
import { Problem } from './problem.js';

export const ADMIN_READ = 'sigil:admin:read';
export const ADMIN_WRITE = 'sigil:admin:write';
/** What a route needs: `read` is satisfied by either admin scope (write implies read). */
export type AdminAccess = 'read' | 'write';

const REALM = 'realm="sigil-admin"';
// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** Who is calling: the admin client, and the user when the token is a user's. */
export interface AdminCaller {
  clientId: string;
  /** The token's subject (the client id itself for client_credentials tokens). */
  sub: string;
  scopes: string[];
  jti: string;
}

export interface DoorDeps {
  keys: TokenVerifier;
  revocations: AccessTokenRevocations;
  /** The audience admin tokens must carry (SIGIL_ADMIN_AUDIENCE). */
  audience: string;
  now: () => Date;
}

const invalidToken = (detail: string) =>
  new Problem('invalid-token', detail, { challenge: `Bearer ${REALM}, error="invalid_token", error_description="${detail}"` });

const REFUSED = {
  invalid: 'the access token is invalid or expired',
  audience: 'the access token is not for the admin API audience',
  revoked: 'the access token was revoked',
  disabled: 'the client or user of the access token is disabled or gone',
} as const;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * The admin API's door: the bearer token checked as a resource server checks Sigil's tokens
 * (signature by a published key, typ at+jwt, iss, exp by the injected clock, aud containing the
 * admin audience), plus what only Sigil knows: the jti not revoked, the client (and the user, for
 * a user's token) still enabled. Descriptions are fixed strings, never the token or the header.
 */
export function createDoor(d: DoorDeps) {
  const verifyBearer = createBearerVerifier(d);
  return async function authenticate(req: FastifyRequest, access: AdminAccess): Promise<AdminCaller> {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header.trim()) : null;
    const token = match?.[1];
    // RFC 6750 §3.1: a request without credentials gets the challenge and no error code.
    if (!token) throw new Problem('unauthorized', 'send an admin access token as Authorization: Bearer', { challenge: `Bearer ${REALM}` });

    const verdict = await verifyBearer(token, { audience: d.audience });
    if (!verdict.ok) throw invalidToken(REFUSED[verdict.reason]);
    const { claims, clientId } = verdict;
    const jti = String(claims.jti);
    const sub = String(claims.sub);

    const scopes = (str(claims.scope) ?? '').split(' ').filter(Boolean);
    const allowed = scopes.includes(ADMIN_WRITE) || (access === 'read' && scopes.includes(ADMIN_READ));
    if (!allowed) {
      const needed = access === 'write' ? ADMIN_WRITE : ADMIN_READ;
      throw new Problem('insufficient-scope', `this needs the ${needed} scope`, {
        challenge: `Bearer ${REALM}, error="insufficient_scope", error_description="this needs the ${needed} scope", scope="${needed}"`,
      });
    }
    return { clientId, sub, scopes, jti };
  };
}

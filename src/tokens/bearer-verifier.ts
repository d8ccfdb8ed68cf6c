import type { AccessTokenRevocations } from './access-token-revocations.js';

/** Sigil's own signature check: a token signed by a published key for this issuer, unexpired. */
export interface SignatureVerifier {
  verify(token: string): Promise<Record<string, unknown>>;
}

export type BearerVerdict =
  | { ok: true; claims: Record<string, unknown>; clientId: string; userId: string | undefined; username: string | undefined }
  /** invalid: bad signature, typ, issuer, shape or expired; audience: minted for another API;
   * revoked: its jti was revoked, or its login ended; disabled: its client or user is disabled or gone. */
  | { ok: false; reason: 'invalid' | 'audience' | 'revoked' | 'disabled' };

const INVALID = { ok: false, reason: 'invalid' } as const;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * Checks one of Sigil's access tokens, for introspection and for Sigil's own APIs alike: as a
 * resource server would (signature, typ, iss, exp: SignatureVerifier), plus what only Sigil knows:
 * the token is not revoked, the login it came from (`sid`, its refresh family) has not ended, its
 * client is enabled, and its user (if any) exists and is enabled; all of that in one batched
 * statement. `audience`, when given, must be among the token's `aud`: a token minted for another
 * API does not open this one.
 */
export function createBearerVerifier(d: { keys: SignatureVerifier; revocations: AccessTokenRevocations; now: () => Date }) {
  return async (token: string, o: { audience?: string } = {}): Promise<BearerVerdict> => {
    if (!JWT_SHAPE.test(token)) return INVALID;
    const claims = await d.keys.verify(token).catch(() => undefined);
    const jti = str(claims?.jti);
    const clientId = str(claims?.client_id);
    if (!claims || !jti || !clientId || !str(claims.sub)) return INVALID;
    // Sigil keeps the time here: no clock-skew allowance past exp, unlike a resource server.
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= d.now().getTime()) return INVALID;
    if (o.audience !== undefined) {
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!aud.includes(o.audience)) return { ok: false, reason: 'audience' };
    }
    const userId = claims.auth_time !== undefined ? str(claims.sub) : undefined;
    // Tokens minted before logins were named in them carry no sid, and are checked as before.
    const familyId = claims.sid === undefined ? undefined : (str(claims.sid) ?? '');
    const status = await d.revocations.status({ jti, clientId, userId, familyId });
    if (status.revoked) return { ok: false, reason: 'revoked' };
    if (!status.clientEnabled || (userId !== undefined && !status.username)) return { ok: false, reason: 'disabled' };
    return { ok: true, claims, clientId, userId, username: status.username };
  };
}

export type BearerVerifier = ReturnType<typeof createBearerVerifier>;

/** The token of an `Authorization: Bearer` header (RFC 6750 §2.1), or why there is none. */
export function bearerToken(header: string | undefined): { token: string } | { missing: true } | { malformed: true } {
  if (header === undefined || header === '') return { missing: true };
  const m = /^Bearer +([\w.~+/-]+=*) *$/i.exec(header);
  return m?.[1] ? { token: m[1] } : { malformed: true };
}

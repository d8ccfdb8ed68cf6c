import { randomUUID } from 'node:crypto';

/** What the token code needs from the key service. */
export interface TokenSigner {
  sign(claims: Record<string, unknown>, ttlSeconds: number): Promise<string>;
}

export interface AccessTokenRequest {
  sub: string;
  clientId: string;
  scopes: string[];
  /** The user's role names (RFC 9068 §2.2.3.1); the claim is left out when there are none. */
  roles?: readonly string[] | undefined;
  aud: string | string[];
  ttlSeconds: number;
  /** When the user authenticated (seconds since the epoch); users only. */
  authTime?: number;
  /** RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to (claim cnf.jkt). */
  jkt?: string;
  /**
   * The login the token comes from: its refresh family's id, as the `sid` claim. Not a secret and
   * no credential; introspection answers inactive once that login has ended (RFC 7009 §2.1).
   */
  sid?: string | undefined;
  /** Extra claims for introspection (e.g. the username). */
  extra?: Record<string, unknown>;
}

export interface IssuedAccessToken {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope?: string;
}

export interface AccessTokenIssuer {
  issue(req: AccessTokenRequest): Promise<IssuedAccessToken>;
}

/**
 * RFC 9068 access tokens: iss, sub, aud, client_id, scope, jti (+ auth_time, roles, sid); the signer adds
 * iat and exp. An empty scope leaves the `scope` claim and response member out (RFC 6749 §3.3 has
 * no empty scope value), and no roles leave `roles` out.
 */
export function createAccessTokenIssuer({ signer, issuer }: { signer: TokenSigner; issuer: string }): AccessTokenIssuer {
  return {
    async issue({ sub, clientId, scopes, roles, aud, ttlSeconds, authTime, jkt, sid, extra }) {
      const scope = scopes.join(' ');
      const claims = {
        ...extra,
        iss: issuer,
        sub,
        aud,
        client_id: clientId,
        jti: randomUUID(),
        ...(scope && { scope }),
        ...(authTime !== undefined && { auth_time: authTime }),
        ...(sid !== undefined && { sid }),
        ...(roles && roles.length > 0 && { roles: [...roles] }),
        ...(jkt !== undefined && { cnf: { jkt } }),
      };
      const accessToken = await signer.sign(claims, ttlSeconds);
      return { access_token: accessToken, token_type: jkt === undefined ? 'Bearer' : 'DPoP', expires_in: ttlSeconds, ...(scope && { scope }) };
    },
  };
}

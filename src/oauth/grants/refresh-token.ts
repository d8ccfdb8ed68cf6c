import { z } from 'zod';
import type { Audit } from '../../ops/audit.js';
import type { AccessTokenIssuer } from '../../tokens/access-token.js';
import type { RefreshGrant, RefreshTokenStore } from '../../tokens/refresh-tokens.js';
import { OAuthError } from '../errors.js';
import { list } from '../form.js';
import { resolveAudience } from '../resource.js';
import { grantScope } from '../scope.js';
import { type TokenPolicy, tokenTtl } from './client-credentials.js';
import type { Grant } from './grant.js';

const Params = z.object({
  refresh_token: z.string().max(256, 'is not a refresh token issued here'),
  scope: z.string().optional(),
  resource: z.union([z.string(), z.array(z.string())]).optional(),
});

const WHY: Record<string, string> = {
  unknown: 'the refresh token is invalid',
  wrong_client: 'the refresh token is invalid',
  expired: 'the refresh token has expired',
  revoked: 'the refresh token was revoked',
  reused: 'the refresh token was already used: every token of this login is now revoked',
  user_disabled: 'the refresh token was revoked',
  // RFC 9449 §5: a refresh token bound to a DPoP key needs a proof made with that key.
  wrong_key: 'the refresh token is bound to another DPoP key: send a proof made with that key',
};

/**
 * RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every use returns a new refresh token and kills
 * the old one; a second use of a rotated token ends the whole family.
 */
export function refreshTokenGrant(deps: {
  refreshTokens: RefreshTokenStore;
  tokens: AccessTokenIssuer;
  policy: TokenPolicy;
  audit?: Audit;
}): Grant<z.infer<typeof Params>> {
  return {
    type: 'refresh_token',
    params: Params,
    async handle(client, params, _req, dpop) {
      // Refresh tokens come only from the password grant: a client that lost it loses them too.
      if (!client.grantTypes.includes('password')) {
        await deps.refreshTokens.revoke(params.refresh_token, client.clientId);
        throw new OAuthError('unauthorized_client', 'this client may not use the refresh_token grant');
      }
      const aud = resolveAudience(list(params, 'resource'), client, deps.policy.defaultAudience);
      // What was granted at login, less what the user no longer holds (the rotation reads her
      // roles and scopes as they are now) and what the client may no longer ask for; the request
      // may narrow it. A requested scope is checked inside the rotation, so a refused request
      // leaves the token unspent; without one nothing can be refused, and the rotation takes a
      // single statement.
      const allowed = (grant: RefreshGrant) => grant.scopes.filter((s) => client.scopes.includes(s));
      let scopes: string[] = [];
      const result = await deps.refreshTokens.rotate(
        params.refresh_token,
        client.clientId,
        params.scope === undefined
          ? undefined
          : (grant) => {
              scopes = grantScope(params.scope, allowed(grant));
            },
        dpop?.jkt,
      );
      if (result.ok && params.scope === undefined) scopes = allowed(result.grant);
      if (!result.ok && result.reason === 'client_not_allowed') {
        throw new OAuthError('unauthorized_client', 'this client may not use the refresh_token grant');
      }
      // As client authentication answers for a disabled client (this instance's cached copy of
      // the client may be a second older than the database).
      if (!result.ok && result.reason === 'client_disabled') throw new OAuthError('invalid_client', 'client authentication failed');
      if (!result.ok && result.reason === 'reused') deps.audit?.({ event: 'refresh_token_reused', client_id: client.clientId });
      if (!result.ok) throw new OAuthError('invalid_grant', WHY[result.reason] ?? 'the refresh token is invalid');
      const response = await deps.tokens.issue({
        sub: result.grant.userId,
        clientId: client.clientId,
        scopes,
        roles: result.grant.roles,
        aud,
        ttlSeconds: tokenTtl(client, deps.policy),
        authTime: Math.floor(result.grant.authTime.getTime() / 1000),
        ...(dpop && { jkt: dpop.jkt }),
        sid: result.grant.familyId,
      });
      return { ...response, refresh_token: result.token };
    },
  };
}

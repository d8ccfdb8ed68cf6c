import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Audit } from '../../ops/audit.js';
import type { AccessTokenIssuer } from '../../tokens/access-token.js';
import type { LoginLookup } from '../../users/login-lookup.js';
import type { LoginThrottle } from '../../users/login-throttle.js';
import type { PasswordHasher } from '../../users/passwords.js';
import type { UserRepository } from '../../users/user-repository.js';
import { OAuthError } from '../errors.js';
import { list } from '../form.js';
import { resolveAudience } from '../resource.js';
import { grantScope, userGrantScope } from '../scope.js';
import { type TokenPolicy, tokenTtl } from './client-credentials.js';
import type { Grant, TokenResponse } from './grant.js';

const Params = z.object({
  username: z.string().max(255, 'is too long'),
  password: z.string().max(1024, 'is too long'),
  scope: z.string().optional(),
  resource: z.union([z.string(), z.array(z.string())]).optional(),
});

export interface PasswordGrantDeps {
  /** The lock-out state and the user, in one round trip. */
  lookup: LoginLookup;
  /** For storing a fresh hash when the parameters changed. */
  users: Pick<UserRepository, 'setPasswordHash'>;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  tokens: AccessTokenIssuer;
  policy: TokenPolicy;
  now: () => Date;
  audit?: Audit;
  /** Adds a refresh token to a successful login (set once refresh tokens exist). */
  withRefreshToken?: (
    response: TokenResponse,
    grant: { userId: string; clientId: string; scopes: string[]; dpopJkt?: string; familyId?: string },
  ) => Promise<TokenResponse>;
}

const BAD_CREDENTIALS = 'invalid username or password';

/**
 * RFC 6749 §4.3, for first-party confidential clients (RFC 9700 discourages it elsewhere).
 * Unknown user, wrong password and disabled user answer alike, after the same argon2 work.
 */
export function passwordGrant(deps: PasswordGrantDeps): Grant<z.infer<typeof Params>> {
  return {
    type: 'password',
    requires: 'password',
    params: Params,
    async handle(client, params, req, dpop) {
      const { username, password } = params;
      // Checked before anything else, so a locked attempt costs no argon2 work. The user comes in
      // the same statement, though it is needed only after the scope checks below.
      const { waitSeconds: wait, hasFailures, user } = await deps.lookup.find(username, req.ip);
      const who = { user_id: user?.id ?? null, username: user?.username ?? null };
      if (wait > 0) {
        deps.audit?.({ event: 'login_locked', ...who, client_id: client.clientId, address: req.ip, retry_after: wait });
        throw new OAuthError('invalid_grant', `too many failed logins: try again in ${wait} seconds`, {
          status: 429,
          retryAfter: wait,
        });
      }
      // Validate what the client asks for before spending argon2 time on it. What the user holds
      // is checked only once she has proved who she is: an earlier refusal would tell anyone
      // without her password which permissions she has.
      grantScope(params.scope, client.scopes);
      const aud = resolveAudience(list(params, 'resource'), client, deps.policy.defaultAudience);

      // A user without a password costs the same argon2 work as an unknown one, and fails alike.
      const hash = user?.passwordHash ?? null;
      const verdict = hash !== null ? await deps.hasher.verify(hash, password) : undefined;
      if (hash === null) await deps.hasher.verifyDummy(password);
      if (!user || !verdict?.ok || user.disabled) {
        await deps.throttle.recordFailure(username, req.ip);
        deps.audit?.({ event: 'login_failed', ...who, client_id: client.clientId, address: req.ip });
        throw new OAuthError('invalid_grant', BAD_CREDENTIALS);
      }
      // Most logins have no failures on record, and need no write to clear them.
      if (hasFailures) await deps.throttle.recordSuccess(username, req.ip);
      if (verdict.needsRehash) await deps.users.setPasswordHash(user.id, await deps.hasher.hash(password));
      // client ∩ user; may be empty: she still logs in, and the token carries no scope claim.
      const scopes = userGrantScope(params.scope, client.scopes, user.effectiveScopes);

      // The login's refresh family, named up front: its access tokens carry it (sid), so that
      // ending the login ends them too (RFC 7009 §2.1).
      const familyId = deps.withRefreshToken ? randomUUID() : undefined;
      const response = await deps.tokens.issue({
        sub: user.id,
        clientId: client.clientId,
        scopes,
        roles: user.roles,
        aud,
        ttlSeconds: tokenTtl(client, deps.policy),
        authTime: Math.floor(deps.now().getTime() / 1000),
        ...(dpop && { jkt: dpop.jkt }),
        sid: familyId,
      });
      // RFC 9449 §5: the login's refresh tokens are bound to the same key.
      const grant = { userId: user.id, clientId: client.clientId, scopes, familyId, ...(dpop && { dpopJkt: dpop.jkt }) };
      return deps.withRefreshToken ? deps.withRefreshToken(response, grant) : response;
    },
  };
}

import { z } from 'zod';
import type { Client } from '../../clients/types.js';
import type { AccessTokenIssuer } from '../../tokens/access-token.js';
import { list } from '../form.js';
import { resolveAudience } from '../resource.js';
import { grantScope } from '../scope.js';
import type { Grant } from './grant.js';

const Params = z.object({ scope: z.string().optional(), resource: z.union([z.string(), z.array(z.string())]).optional() });

export interface TokenPolicy {
  defaultAudience: string;
  /** Default and longest access-token lifetime: a client's own TTL may only shorten it. */
  accessTokenTtl: number;
}

export const tokenTtl = (client: Client, policy: TokenPolicy) =>
  Math.min(client.accessTokenTtlSeconds ?? policy.accessTokenTtl, policy.accessTokenTtl);

/** RFC 6749 §4.4: the client acts for itself; sub is its client_id, and there is never a refresh token. */
export function clientCredentialsGrant(deps: { tokens: AccessTokenIssuer; policy: TokenPolicy }): Grant<z.infer<typeof Params>> {
  return {
    type: 'client_credentials',
    requires: 'client_credentials',
    params: Params,
    handle: (client, params, _req, dpop) =>
      deps.tokens.issue({
        sub: client.clientId,
        clientId: client.clientId,
        scopes: grantScope(params.scope, client.scopes),
        aud: resolveAudience(list(params, 'resource'), client, deps.policy.defaultAudience),
        ttlSeconds: tokenTtl(client, deps.policy),
        ...(dpop && { jkt: dpop.jkt }),
      }),
  };
}

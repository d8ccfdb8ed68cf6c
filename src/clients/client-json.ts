import type { Client } from './types.js';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** The client's settings as scripts and the admin API see them; never a secret or a hash. */
export function clientJson(c: Client) {
  return {
    client_id: c.clientId,
    name: c.name,
    token_endpoint_auth_method: c.authMethod,
    ...(c.jwks && { jwks: c.jwks }),
    ...(c.jwksUri && { jwks_uri: c.jwksUri }),
    grant_types: c.grantTypes as string[],
    scopes: c.scopes,
    audience: c.audience,
    audiences: c.audiences,
    access_token_ttl: c.accessTokenTtlSeconds,
    introspect: c.mayIntrospect,
    require_dpop: c.requireDpop,
    disabled: c.disabled,
    previous_secret_expires_at: iso(c.previousSecretExpiresAt),
    created_at: iso(c.createdAt),
    updated_at: iso(c.updatedAt),
  };
}

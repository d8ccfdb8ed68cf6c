import type { Client } from '../clients/types.js';
import { OAuthError } from './errors.js';

/**
 * The token's audience. RFC 8707: each `resource` must be an absolute URI without a fragment and
 * one the client may ask for (its default audience or its listed resources), else invalid_target.
 * Without one: the client's default audience, else the server's.
 */
export function resolveAudience(resources: string[], client: Client, serverDefault: string): string | string[] {
  if (resources.length === 0) return client.audience ?? serverDefault;
  const allowed = new Set([...(client.audience ? [client.audience] : []), ...client.audiences]);
  for (const resource of resources) {
    if (!isAbsoluteUriWithoutFragment(resource)) {
      throw new OAuthError('invalid_target', 'resource must be an absolute URI without a fragment');
    }
    if (!allowed.has(resource)) {
      throw new OAuthError('invalid_target', 'this client may not ask for tokens for the requested resource');
    }
  }
  const unique = [...new Set(resources)];
  return unique.length === 1 ? (unique[0] as string) : unique;
}

function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (value.includes('#')) return false;
  return URL.canParse(value) && /^[a-z][a-z0-9+.-]*:/i.test(value);
}

import { OAuthError } from './errors.js';

// RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

export function parseScope(scope: string): string[] {
  if (!SCOPE.test(scope)) {
    throw new OAuthError('invalid_scope', 'the scope parameter is malformed: scope tokens separated by single spaces');
  }
  return [...new Set(scope.split(' '))];
}

/**
 * The scopes to grant: the requested ones when every one is allowed, else invalid_scope; with no
 * request, every scope in `fallback` (the client's allowed scopes).
 */
export function grantScope(requested: string | undefined, allowed: readonly string[], fallback = allowed): string[] {
  if (requested === undefined) return [...fallback];
  const scopes = parseScope(requested);
  const refused = scopes.filter((s) => !allowed.includes(s));
  if (refused.length > 0) {
    throw new OAuthError('invalid_scope', 'a requested scope is not allowed for this client');
  }
  return scopes;
}

import { OAuthError } from './errors.js';

// RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

export function parseScope(scope: string): string[] {
  if (!SCOPE.test(scope)) {
    throw new OAuthError('invalid_scope', 'the scope parameter is malformed: scope tokens separated by single spaces');
  }
  return [...new Set(scope.split(' '))];
}

// A request may name thousands of scopes (up to the body limit): the description names the first
// refused ones, within this many characters (the whole description stays within ERROR_TEXT_MAX_LENGTH), and counts the rest. Scope tokens are already within
// RFC 6749 §5.2's error_description charset (no quote, no backslash), so naming them is safe.
const MAX_NAMED_CHARS = 140;

export function describeRefused(refused: readonly string[]): string {
  const named: string[] = [];
  let length = 0;
  for (const s of refused) {
    if (named.length > 0 && length + 1 + s.length > MAX_NAMED_CHARS) break;
    if (named.length === 0 && s.length > MAX_NAMED_CHARS) {
      named.push(`${s.slice(0, MAX_NAMED_CHARS - 3)}...`);
      length = MAX_NAMED_CHARS;
      continue;
    }
    named.push(s);
    length += (named.length > 1 ? 1 : 0) + s.length;
  }
  const more = refused.length - named.length;
  return named.join(' ') + (more > 0 ? ` and ${more} more` : '');
}

/**
 * The scopes to grant: the requested ones when every one is allowed, else invalid_scope naming the
 * refused ones (`whose` says by whom: "this client", "this user"); with no request, every scope in
 * `fallback` (by default every allowed one).
 */
export function grantScope(
  requested: string | undefined,
  allowed: readonly string[],
  fallback: readonly string[] = allowed,
  whose = 'this client',
): string[] {
  if (requested === undefined) return [...fallback];
  const scopes = parseScope(requested);
  const allowedSet = new Set(allowed);
  const refused = scopes.filter((s) => !allowedSet.has(s));
  if (refused.length > 0) {
    throw new OAuthError('invalid_scope', `scope not allowed for ${whose}: ${describeRefused(refused)}`);
  }
  return scopes;
}

/** The client's scopes that the user also holds, in the client's order. */
export function intersectScopes(clientScopes: readonly string[], userScopes: readonly string[]): string[] {
  const held = new Set(userScopes);
  return clientScopes.filter((s) => held.has(s));
}

/**
 * A user's token (issue 13): the requested scopes must lie in client ∩ user, else invalid_scope
 * naming the refused ones (first those the client may not ask for, then those the user lacks);
 * no request → the whole intersection, which may be empty.
 */
export function userGrantScope(requested: string | undefined, clientScopes: readonly string[], userScopes: readonly string[]) {
  if (requested !== undefined) grantScope(requested, clientScopes);
  return grantScope(requested, intersectScopes(clientScopes, userScopes), undefined, 'this user');
}

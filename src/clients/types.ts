export const GRANT_TYPES = ['client_credentials', 'password'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/** How a client proves itself at the token endpoint (RFC 7591 token_endpoint_auth_method). */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** A public JWK as registered for private_key_jwt (RFC 7517). */
export type PublicJwk = Record<string, unknown>;

export interface Client {
  clientId: string;
  name: string;
  /** client_secret_basic and client_secret_post accept either; private_key_jwt only signed assertions. */
  authMethod: AuthMethod;
  /** Null for private_key_jwt clients, which have no secret. */
  secretHash: Buffer | null;
  /** private_key_jwt: the public keys inline, or where to fetch them (exactly one of the two). */
  jwks: { keys: PublicJwk[] } | null;
  jwksUri: string | null;
  previousSecretHash: Buffer | null;
  previousSecretExpiresAt: Date | null;
  grantTypes: GrantType[];
  scopes: string[];
  /** Audience of tokens whose request names no resource. */
  audience: string | null;
  /** Further resources (RFC 8707) the client may ask tokens for. */
  audiences: string[];
  accessTokenTtlSeconds: number | null;
  mayIntrospect: boolean;
  /** RFC 9449 §5.2 (dpop_bound_access_tokens): a token request without a DPoP proof is refused. */
  requireDpop: boolean;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export type ClientSettings = Pick<
  Client,
  'clientId' | 'name' | 'grantTypes' | 'scopes' | 'audience' | 'audiences' | 'accessTokenTtlSeconds' | 'mayIntrospect' | 'requireDpop'
>;

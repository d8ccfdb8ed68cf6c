export const GRANT_TYPES = ['client_credentials', 'password'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export interface Client {
  clientId: string;
  name: string;
  secretHash: Buffer;
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

import { z } from 'zod';

// The shapes of the OAuth endpoints, for the OpenAPI document. Requests are validated by the
// routes themselves (readForm and each grant's parameters), which give the precise RFC 6749
// errors; these schemas never reject a request (see documentationOnly).

const param = (description: string) => z.string().optional().describe(description);
const repeatable = (description: string) => z.union([z.string(), z.array(z.string())]).optional().describe(description);

const clientAuth = {
  client_id: param('client_secret_post: the client id (or use HTTP Basic)'),
  client_secret: param('client_secret_post: the client secret (or use HTTP Basic)'),
  client_assertion_type: param('private_key_jwt: urn:ietf:params:oauth:client-assertion-type:jwt-bearer'),
  client_assertion: param('private_key_jwt: a JWT signed with the client key (RFC 7523 §2.2)'),
};

export const OAuthErrorSchema = z
  .object({ error: z.string(), error_description: z.string().optional() })
  .describe('RFC 6749 §5.2 error');

export const TokenRequestSchema = z.object({
  grant_type: param('client_credentials, password or refresh_token'),
  scope: param('space-separated scopes: a subset of the client’s (for a user, of client ∩ user)'),
  resource: repeatable('RFC 8707 resource indicator (may repeat)'),
  username: param('password grant'),
  password: param('password grant'),
  refresh_token: param('refresh_token grant'),
  ...clientAuth,
});

export const TokenResponseSchema = z.object({
  access_token: z.string().describe('RFC 9068 JWT'),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string().optional(),
  refresh_token: z.string().optional().describe('password and refresh_token grants only'),
});

export const TokenLookupSchema = z.object({
  token: param('the token'),
  token_type_hint: param('access_token or refresh_token (a hint only)'),
  ...clientAuth,
});

export const IntrospectionResponseSchema = z
  .object({
    active: z.boolean(),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    username: z.string().optional(),
    roles: z.array(z.string()).optional().describe("the user's role names (RFC 9068 §2.2.3.1), when she has any"),
    token_type: z.string().optional(),
    exp: z.number().optional(),
    iat: z.number().optional(),
    sub: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    iss: z.string().optional(),
    jti: z.string().optional(),
  })
  .describe('RFC 7662 introspection response');

/**
 * A route's validatorCompiler for schemas that only document: Fastify would otherwise run the zod
 * schema on every body (even with attachValidation), work the route then does again, properly.
 */
export const documentationOnly = () => () => true;

/** What readForm reads for each endpoint: the parameters these schemas document, no others. */
export const TOKEN_FORM = { known: Object.keys(TokenRequestSchema.shape), repeatable: ['resource'] };
export const TOKEN_LOOKUP_FORM = { known: Object.keys(TokenLookupSchema.shape) };

const errors = { 400: OAuthErrorSchema, 401: OAuthErrorSchema, 429: OAuthErrorSchema, 503: OAuthErrorSchema };
const FORM = ['application/x-www-form-urlencoded'];
// HTTP Basic, or client_id and client_secret in the form (no HTTP-level scheme).
const security: Record<string, string[]>[] = [{ clientSecretBasic: [] }, {}];

export const TOKEN_ROUTE_SCHEMA = {
  summary: 'Issue tokens (RFC 6749 §4.3, §4.4, §6)',
  consumes: FORM,
  body: TokenRequestSchema,
  response: { 200: TokenResponseSchema, ...errors },
  security,
};

export const INTROSPECT_ROUTE_SCHEMA = {
  summary: 'Introspect a token (RFC 7662)',
  consumes: FORM,
  body: TokenLookupSchema,
  response: { 200: IntrospectionResponseSchema, ...errors },
  security,
};

export const REVOKE_ROUTE_SCHEMA = {
  summary: 'Revoke a token (RFC 7009)',
  consumes: FORM,
  body: TokenLookupSchema,
  response: { 200: z.null().describe('empty body'), ...errors },
  security,
};

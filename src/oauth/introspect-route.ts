import type { FastifyInstance } from 'fastify';
import type { Client } from '../clients/types.js';
import type { BearerVerifier } from '../tokens/bearer-verifier.js';
import type { RefreshTokenStore } from '../tokens/refresh-tokens.js';
import { annotate } from '../ops/request-log.js';
import { documentationOnly, INTROSPECT_ROUTE_SCHEMA, TOKEN_LOOKUP_FORM } from './api-schemas.js';
import type { AuthenticateClient } from './client-auth.js';
import { OAuthError } from './errors.js';
import { readForm, single } from './form.js';
import { postOnly } from './method-not-allowed.js';
import { noStoreHook } from './no-store.js';

export interface IntrospectionDeps {
  /** Every check of an access token, as Sigil's own APIs make them (src/tokens/bearer-verifier.ts). */
  verifyAccessToken: BearerVerifier;
  refreshTokens: RefreshTokenStore;
  issuer: string;
}

type Introspection = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: Introspection = { active: false };
// Client may see a token when it is a resource server (may_introspect) or the token is its own.
const maySee = (caller: Client, clientId: unknown) => caller.mayIntrospect || clientId === caller.clientId;
const dpopBinding = (claims: Record<string, unknown>) => {
  const cnf = claims.cnf as { jkt?: unknown } | undefined;
  return typeof cnf?.jkt === 'string' ? { token_type: 'DPoP', cnf: { jkt: cnf.jkt } } : { token_type: 'Bearer' };
};

/** RFC 7662. Starts from inactive and answers active only after every check has passed. */
export function createIntrospection(d: IntrospectionDeps) {
  async function accessToken(token: string, caller: Client): Promise<Introspection> {
    const verdict = await d.verifyAccessToken(token);
    if (!verdict.ok || !maySee(caller, verdict.clientId)) return INACTIVE;
    const { claims, clientId, username } = verdict;
    return {
      active: true,
      scope: claims.scope,
      client_id: clientId,
      ...(username && { username }),
      // As the token says (RFC 9068 §2.2.3.1): the roles she held when it was issued.
      ...(Array.isArray(claims.roles) && claims.roles.length > 0 && { roles: claims.roles }),
      // RFC 9449 §6.2: a DPoP-bound token says so, with its key's thumbprint.
      ...dpopBinding(claims),
      exp: claims.exp,
      iat: claims.iat,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      jti: claims.jti,
    };
  }

  async function refreshToken(token: string, caller: Client): Promise<Introspection> {
    if (token.length > 256) return INACTIVE;
    const info = await d.refreshTokens.inspect(token);
    if (!info || !maySee(caller, info.clientId)) return INACTIVE;
    return {
      active: true,
      scope: info.scopes.join(' ') || undefined,
      client_id: info.clientId,
      username: info.username,
      ...(info.roles.length > 0 && { roles: info.roles }),
      token_type: 'refresh_token',
      exp: Math.floor(info.expiresAt.getTime() / 1000),
      iat: Math.floor(info.issuedAt.getTime() / 1000),
      sub: info.userId,
      iss: d.issuer,
    };
  }

  /** token_type_hint only decides which kind is tried first (RFC 7662 §2.1). */
  return async (token: string, hint: string | undefined, caller: Client): Promise<Introspection> => {
    const order = hint === 'refresh_token' ? [refreshToken, accessToken] : [accessToken, refreshToken];
    for (const lookup of order) {
      const result = await lookup(token, caller);
      if (result.active) return result;
    }
    return INACTIVE;
  };
}

export interface IntrospectRouteOptions {
  authenticateClient: AuthenticateClient;
  introspect: ReturnType<typeof createIntrospection>;
}

export async function introspectRoute(app: FastifyInstance, { authenticateClient, introspect }: IntrospectRouteOptions) {
  app.addHook('onRequest', noStoreHook);
  app.post('/introspect', { schema: INTROSPECT_ROUTE_SCHEMA, validatorCompiler: documentationOnly }, async (req) => {
    const params = readForm(req, TOKEN_LOOKUP_FORM);
    const caller = await authenticateClient(req, params);
    annotate(req, { client_id: caller.clientId });
    const token = single(params, 'token');
    if (token === undefined) throw new OAuthError('invalid_request', 'the token parameter is missing');
    return introspect(token, single(params, 'token_type_hint'), caller);
  });
  postOnly(app, '/introspect');
}

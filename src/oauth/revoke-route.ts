import type { FastifyInstance } from 'fastify';
import type { AccessTokenRevocations } from '../tokens/access-token-revocations.js';
import type { SignatureVerifier } from '../tokens/bearer-verifier.js';
import type { RefreshTokenStore } from '../tokens/refresh-tokens.js';
import { annotate } from '../ops/request-log.js';
import { documentationOnly, REVOKE_ROUTE_SCHEMA, TOKEN_LOOKUP_FORM } from './api-schemas.js';
import type { AuthenticateClient } from './client-auth.js';
import { OAuthError } from './errors.js';
import { readForm, single } from './form.js';
import { postOnly } from './method-not-allowed.js';
import { noStoreHook } from './no-store.js';

export interface RevokeRouteOptions {
  authenticateClient: AuthenticateClient;
  keys: SignatureVerifier;
  revocations: AccessTokenRevocations;
  refreshTokens: RefreshTokenStore;
}

/**
 * RFC 7009. A client revokes its own tokens: a refresh token ends its family, an access token is
 * recorded until it expires. Unknown, malformed or another client's tokens get the same empty 200.
 */
export async function revokeRoute(app: FastifyInstance, o: RevokeRouteOptions) {
  app.addHook('onRequest', noStoreHook);
  app.post('/revoke', { schema: REVOKE_ROUTE_SCHEMA, validatorCompiler: documentationOnly }, async (req, reply) => {
    const params = readForm(req, TOKEN_LOOKUP_FORM);
    const client = await o.authenticateClient(req, params);
    annotate(req, { client_id: client.clientId });
    const token = single(params, 'token');
    if (token === undefined) throw new OAuthError('invalid_request', 'the token parameter is missing');
    // The hint is only an optimisation (§2.1): both kinds are tried whatever it says.
    const revokedRefresh = token.length <= 256 && (await o.refreshTokens.revoke(token, client.clientId));
    if (!revokedRefresh) {
      const claims = await o.keys.verify(token).catch(() => undefined);
      if (claims && claims.client_id === client.clientId && typeof claims.jti === 'string' && typeof claims.exp === 'number') {
        await o.revocations.revoke({ jti: claims.jti, clientId: client.clientId, expiresAt: new Date(claims.exp * 1000) });
      }
    }
    return reply.code(200).send();
  });
  postOnly(app, '/revoke');
}

import type { FastifyInstance } from 'fastify';
import type { Audit } from '../ops/audit.js';
import { annotate } from '../ops/request-log.js';
import { documentationOnly, TOKEN_ROUTE_SCHEMA, TOKEN_FORM } from './api-schemas.js';
import type { AuthenticateClient } from './client-auth.js';
import type { DpopCheck } from './dpop/dpop-check.js';
import { OAuthError } from './errors.js';
import { readForm, single } from './form.js';
import { type GrantRegistry, parseGrantParams } from './grants/grant.js';
import { postOnly } from './method-not-allowed.js';
import { noStoreHook } from './no-store.js';

export interface TokenRouteOptions {
  authenticateClient: AuthenticateClient;
  grants: GrantRegistry;
  /** RFC 9449 proofs; without it the DPoP header is ignored. */
  dpop?: DpopCheck;
  audit?: Audit;
}

/**
 * POST /token: form → client authentication → grant lookup → client permission → grant parameters
 * → tokens. Each step fails with its own RFC 6749 §5.2 error.
 */
export async function tokenRoute(app: FastifyInstance, { authenticateClient, grants, dpop, audit }: TokenRouteOptions) {
  // Errors from this plugin are token responses too: never cached.
  app.addHook('onRequest', noStoreHook);

  app.post('/token', { schema: TOKEN_ROUTE_SCHEMA, validatorCompiler: documentationOnly }, async (req, reply) => {
    // RFC 8707 lets `resource` repeat; every other parameter must come once.
    const params = readForm(req, TOKEN_FORM);
    const grantType = single(params, 'grant_type');
    const grant = grantType === undefined ? undefined : grants.get(grantType);
    const client = await authenticateClient(req, params);
    // The grant's own name, never the raw grant_type: a client may put anything there, a secret too.
    annotate(req, { client_id: client.clientId, ...(grant && { grant: grant.type }) });
    if (grantType === undefined) throw new OAuthError('invalid_request', 'the grant_type parameter is missing');
    if (!grant) throw new OAuthError('unsupported_grant_type', 'this grant_type is not supported');
    if (grant.requires && !client.grantTypes.includes(grant.requires)) {
      throw new OAuthError('unauthorized_client', `this client may not use the ${grant.type} grant`);
    }
    const grantParams = parseGrantParams(grant, params);
    // After the request itself is known good, so a malformed request spends no proof.
    const binding = dpop && (await dpop(req, reply));
    if (!binding && client.requireDpop) throw new OAuthError('invalid_dpop_proof', 'this client must send a DPoP proof');
    const response = await grant.handle(client, grantParams, req, binding);
    dpop?.nonceHeader(reply);
    audit?.({ event: 'token_issued', grant: grant.type, client_id: client.clientId, ...(binding && { dpop: true }) });
    return reply.send(response);
  });
  postOnly(app, '/token');
}

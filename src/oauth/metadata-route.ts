import type { FastifyInstance } from 'fastify';
import type { ScopeCatalog } from '../clients/scope-catalog.js';
import { DPOP_ALGS } from './dpop/dpop-proof.js';

export interface MetadataRouteOptions {
  issuer: string;
  grantTypes: string[];
  scopeCatalog: ScopeCatalog;
  /** Endpoints beyond /token, by metadata name (introspection_endpoint, revocation_endpoint…). */
  endpoints?: Record<string, string>;
}

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
// The algorithms a private_key_jwt client assertion may be signed with (never none or HMAC).
const ASSERTION_SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'];
export const METADATA_PATH = '/.well-known/oauth-authorization-server';

/**
 * RFC 8414 authorization server metadata. The issuer is the one in every token. For an issuer with
 * a path, /.well-known/oauth-authorization-server/<path> (§3.1) is routed here too (src/http/issuer-path.ts).
 */
export async function metadataRoute(app: FastifyInstance, o: MetadataRouteOptions) {
  const at = (path: string) => `${o.issuer}${path}`;
  // Loaded once at start, so the document is served from memory even when the database is down.
  app.addHook('onReady', async () => {
    await o.scopeCatalog.scopes().catch(() => {});
  });
  app.get(METADATA_PATH, async (_req, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return {
      issuer: o.issuer,
      token_endpoint: at('/token'),
      jwks_uri: at('/.well-known/jwks.json'),
      grant_types_supported: o.grantTypes,
      token_endpoint_auth_methods_supported: AUTH_METHODS,
      token_endpoint_auth_signing_alg_values_supported: ASSERTION_SIGNING_ALGS,
      scopes_supported: await o.scopeCatalog.scopes(),
      // No authorization endpoint: Sigil serves the token-endpoint grants only.
      response_types_supported: [],
      dpop_signing_alg_values_supported: DPOP_ALGS,
      ...Object.fromEntries(
        Object.entries(o.endpoints ?? {}).flatMap(([name, path]) => [
          [name, at(path)],
          [`${name}_auth_methods_supported`, AUTH_METHODS],
          [`${name}_auth_signing_alg_values_supported`, ASSERTION_SIGNING_ALGS],
        ]),
      ),
    };
  });
}

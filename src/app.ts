import formbody from '@fastify/formbody';
import { adminApi, isAdminPath } from './admin/admin-api.js';
import { adminErrorHandler } from './admin/problem.js';
import { createClientService } from './clients/client-service.js';
import { createRoleService } from './users/role-service.js';
import { createUserService } from './users/user-service.js';
import Fastify, { type FastifyError, type FastifyServerOptions, LogController } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { issuerPath } from './http/issuer-path.js';
import { JWKS_PATH, jwksRoute } from './keys/jwks-route.js';
import { createKeyRepository } from './keys/key-repository.js';
import type { KeyService, ManagedKeyService } from './keys/key-service.js';
import { notFoundHandler, oauthErrorHandler } from './oauth/error-handler.js';
import { healthRoutes } from './ops/health-routes.js';
import { lazyChildLogger } from './logger.js';
import { createAudit } from './ops/audit.js';
import { apiResponseHeaders, httpProtection } from './ops/http-protection.js';
import { countRequests, createMetrics, type Metrics, metricsRoute } from './ops/metrics.js';
import { openApi } from './ops/openapi.js';
import { createRequestIds, requestLog } from './ops/request-log.js';
import { type ClientCache, createClientCache } from './clients/client-cache.js';
import { createClientRepository } from './clients/client-repository.js';
import { createScopeCatalog } from './clients/scope-catalog.js';
import { createClientAuthenticator } from './oauth/client-auth.js';
import { createDpopCheck } from './oauth/dpop/dpop-check.js';
import { createDpopNonces } from './oauth/dpop/dpop-nonce.js';
import { createDpopReplayStore } from './tokens/dpop-proof-jtis.js';
import { randomBytes } from 'node:crypto';
import { createAssertionVerifier, createJwksFetcher, createSpentAssertions } from './oauth/client-assertion.js';
import { clientCredentialsGrant } from './oauth/grants/client-credentials.js';
import { createGrantRegistry } from './oauth/grants/grant.js';
import { passwordGrant } from './oauth/grants/password.js';
import { METADATA_PATH, metadataRoute } from './oauth/metadata-route.js';
import { tokenRoute } from './oauth/token-route.js';
import { refreshTokenGrant } from './oauth/grants/refresh-token.js';
import { createIntrospection, introspectRoute } from './oauth/introspect-route.js';
import { revokeRoute } from './oauth/revoke-route.js';
import { createAccessTokenIssuer } from './tokens/access-token.js';
import { createAccessTokenRevocations } from './tokens/access-token-revocations.js';
import { createRefreshTokenStore } from './tokens/refresh-tokens.js';
import { createLoginLookup } from './users/login-lookup.js';
import { createLoginThrottle } from './users/login-throttle.js';
import { createPasswordHasher, type PasswordHasher } from './users/passwords.js';
import { createUserRepository } from './users/user-repository.js';
import { createPasswordChange } from './users/password-change.js';
import { createBearerVerifier } from './tokens/bearer-verifier.js';
import { accountPasswordRoute } from './admin/account-password-route.js';

export interface AppDeps {
  config: Config;
  db: Database;
  /** Signing keys, loaded (server.ts: createKeyService + start; tests: createTestKeys). */
  keys: KeyService & Pick<ManagedKeyService, 'rotation'>;
  /** Schema version this build needs; /readyz compares the database against it. */
  migrationVersion: number;
  logger?: FastifyServerOptions['logger'];
  now?: () => Date;
  /** Default: argon2id with config.argon2. */
  hasher?: PasswordHasher;
  /** Default: a registry of this app's own. server.ts passes one so it can count key rotations. */
  metrics?: Metrics;
  /** Default: a client cache of this app's own, started here and stopped when the app closes. */
  clientCache?: ClientCache;
  /**
   * Key of the DPoP nonces (RFC 9449 §8), the same on every instance (server.ts derives it from the
   * key-encryption key). Default: random, valid for this app only.
   */
  dpopNonceKey?: Uint8Array;
}

// Small on purpose: an OAuth request is a few hundred bytes.
export const BODY_LIMIT_BYTES = 16 * 1024;
export const SIGIL_VERSION = '0.1.0';

/** A ready Fastify instance wired to its dependencies. Never listens; tests drive it with inject. */
export async function buildApp(deps: AppDeps) {
  const { config, db, keys, migrationVersion, logger = false, now = () => new Date(), hasher } = deps;
  const issuer = issuerPath(config.issuer, [METADATA_PATH]);
  const app = Fastify({
    logger,
    // Only for an issuer with a path: the other deployments pay nothing per request.
    ...(issuer.path !== '' && { rewriteUrl: (req: { url?: string }) => issuer.rewriteUrl(req.url ?? '/') }),
    bodyLimit: BODY_LIMIT_BYTES,
    // A hop count is valid at run time (proxy-addr) though the type omits it.
    trustProxy: config.trustProxy as boolean | string | string[],
    genReqId: createRequestIds(),
    // requestLog writes the one line per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    // A URL the router cannot decode, or a path parameter over maxParamLength, is answered before
    // any route or scope, by default in Fastify's words quoting the URL: here in the surface's own.
    frameworkErrors: (err, req, reply) => {
      apiResponseHeaders(req, reply); // no hook runs for these
      return (isAdminPath(req.url) ? adminErrorHandler : oauthErrorHandler)(err as FastifyError, req, reply);
    },
  }).withTypeProvider<ZodTypeProvider>();
  if (logger) app.setChildLoggerFactory(lazyChildLogger);
  app.addHook('onRoute', (route) => issuer.checkRoute(route.url));
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API (OpenAPI); replies are plain JSON.stringify, as without them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(oauthErrorHandler);
  await app.register(formbody);
  // On the root instance, so they cover every route registered after them.
  await httpProtection(app, config, { publicDocuments: [JWKS_PATH, METADATA_PATH] });
  const metrics = deps.metrics ?? createMetrics({ db, signingKey: () => keys.signingKey(), now });
  const { onUnmatchedResponse } = countRequests(app, metrics);
  // Requests that match no route: the 404 handler in a scope of its own, whose hook counts them.
  await app.register(async (scope) => {
    scope.addHook('onResponse', onUnmatchedResponse);
    scope.setNotFoundHandler(notFoundHandler);
  });
  await requestLog(app);
  await openApi(app, { issuer: config.issuer, version: SIGIL_VERSION });
  await metricsRoute(app, { metrics, token: config.metricsToken });
  const audit = createAudit(app.log, metrics);
  await app.register(healthRoutes, { db, migrationVersion });
  await app.register(jwksRoute, { keys });

  const tokens = createAccessTokenIssuer({ signer: keys, issuer: config.issuer });
  const refreshTokens = createRefreshTokenStore(db, config.refreshTokens, now);
  const revocations = createAccessTokenRevocations(db, now);
  // One hasher for every password check, so its concurrency bound holds across routes.
  const passwordHasher = hasher ?? createPasswordHasher(config.argon2);
  const throttle = createLoginThrottle(db, config.login, now);
  const lookup = createLoginLookup(db, now);
  const userRepository = createUserRepository(db);
  const policy = { defaultAudience: config.defaultAudience, accessTokenTtl: config.accessTokenTtl };
  const grants = createGrantRegistry([
    clientCredentialsGrant({ tokens, policy }),
    passwordGrant({
      lookup,
      users: userRepository,
      hasher: passwordHasher,
      throttle,
      tokens,
      policy,
      now,
      audit,
      withRefreshToken: async (response, grant) => ({
        ...response,
        refresh_token: await refreshTokens.issue({ ...grant, authTime: now() }),
      }),
    }),
    refreshTokenGrant({ refreshTokens, tokens, policy, audit }),
  ]);
  const clientCache = deps.clientCache ?? createClientCache(db, createClientRepository(db), { maxEntries: config.clientCacheSize });
  if (!deps.clientCache) {
    await clientCache.start({ onError: (err) => app.log.warn({ err }, 'client cache: version check failed') });
    app.addHook('onClose', () => clientCache.stop());
  }
  const verifyAssertion = createAssertionVerifier(
    {
      issuer: config.issuer,
      tokenEndpoint: `${config.issuer}/token`,
      maxAgeSeconds: config.clientAssertions.maxAgeSeconds,
      clockSkewSeconds: config.keys.clockSkewSeconds,
      allowHttpLoopbackJwksUri: config.clientAssertions.allowHttpLoopbackJwksUri,
    },
    createSpentAssertions(db, now),
    createJwksFetcher({ allowHttpLoopback: config.clientAssertions.allowHttpLoopbackJwksUri }),
  );
  const authenticateClient = createClientAuthenticator(clientCache, now, verifyAssertion);
  const keyRepository = createKeyRepository(db);
  const verifyBearer = createBearerVerifier({ keys, revocations, now });
  const introspect = createIntrospection({ verifyAccessToken: verifyBearer, refreshTokens, issuer: config.issuer });
  const dpop = createDpopCheck({
    replay: createDpopReplayStore(db),
    nonces: config.dpop.nonce
      ? createDpopNonces(deps.dpopNonceKey ?? randomBytes(32), config.dpop.proofWindowSeconds, now)
      : undefined,
    tokenEndpoint: `${config.issuer}/token`,
    windowSeconds: config.dpop.proofWindowSeconds,
    clockSkewSeconds: config.keys.clockSkewSeconds,
    now,
  });
  await app.register(tokenRoute, { authenticateClient, grants, dpop, audit });
  await app.register(introspectRoute, { authenticateClient, introspect });
  await app.register(revokeRoute, { authenticateClient, keys, revocations, refreshTokens });
  await app.register(accountPasswordRoute, {
    verifyBearer,
    changePassword: createPasswordChange({
      lookup,
      throttle,
      hasher: passwordHasher,
      users: userRepository,
      endSessions: (userId, keep) => refreshTokens.revokeAll({ userId }, 'revoked', keep),
    }),
    refreshTokens,
    audit,
  });
  await app.register(metadataRoute, {
    issuer: config.issuer,
    grantTypes: [...grants.keys()],
    scopeCatalog: createScopeCatalog(db),
    endpoints: { introspection_endpoint: '/introspect', revocation_endpoint: '/revoke' },
  });
  // The admin API: the same services as the CLI, behind Sigil's own access tokens.
  await adminApi(app, {
    keys,
    revocations,
    audience: config.adminAudience,
    now,
    users: createUserService(db, passwordHasher),
    roles: createRoleService(db),
    clients: createClientService(createClientRepository(db), {
      db,
      allowHttpLoopbackJwksUri: config.clientAssertions.allowHttpLoopbackJwksUri,
      onChange: () => clientCache.clear(),
    }),
    signingKeys: { list: () => keyRepository.list(), rotation: keys.rotation },
    refreshTokens,
    audit,
    graceHours: config.clientSecretGraceHours,
    rateLimitPerMinute: config.adminRateLimitPerMinute,
  });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;

import formbody from '@fastify/formbody';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { jwksRoute } from './keys/jwks-route.js';
import type { KeyService } from './keys/key-service.js';
import { notFoundHandler, oauthErrorHandler } from './oauth/error-handler.js';
import { healthRoutes } from './ops/health-routes.js';
import { createClientRepository } from './clients/client-repository.js';
import { createScopeCatalog } from './clients/scope-catalog.js';
import { createClientAuthenticator } from './oauth/client-auth.js';
import { clientCredentialsGrant } from './oauth/grants/client-credentials.js';
import { createGrantRegistry } from './oauth/grants/grant.js';
import { passwordGrant } from './oauth/grants/password.js';
import { metadataRoute } from './oauth/metadata-route.js';
import { tokenRoute } from './oauth/token-route.js';
import { refreshTokenGrant } from './oauth/grants/refresh-token.js';
import { createIntrospection, introspectRoute } from './oauth/introspect-route.js';
import { revokeRoute } from './oauth/revoke-route.js';
import { createAccessTokenIssuer } from './tokens/access-token.js';
import { createAccessTokenRevocations } from './tokens/access-token-revocations.js';
import { createRefreshTokenStore } from './tokens/refresh-tokens.js';
import { createLoginThrottle } from './users/login-throttle.js';
import { createPasswordHasher, type PasswordHasher } from './users/passwords.js';
import { createUserRepository } from './users/user-repository.js';

export interface AppDeps {
  config: Config;
  db: Database;
  /** Signing keys, loaded (server.ts: createKeyService + start; tests: createTestKeys). */
  keys: KeyService;
  /** Schema version this build needs; /readyz compares the database against it. */
  migrationVersion: number;
  logger?: FastifyServerOptions['logger'];
  now?: () => Date;
  /** Default: argon2id with config.argon2. */
  hasher?: PasswordHasher;
}

// Small on purpose: an OAuth request is a few hundred bytes.
export const BODY_LIMIT_BYTES = 16 * 1024;

/** A ready Fastify instance wired to its dependencies. Never listens; tests drive it with inject. */
export async function buildApp({ config, db, keys, migrationVersion, logger = false, now = () => new Date(), hasher }: AppDeps) {
  const app = Fastify({
    logger,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(oauthErrorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(formbody);
  await app.register(healthRoutes, { db, migrationVersion });
  await app.register(jwksRoute, { keys });

  const tokens = createAccessTokenIssuer({ signer: keys, issuer: config.issuer });
  const refreshTokens = createRefreshTokenStore(db, config.refreshTokens, now);
  const revocations = createAccessTokenRevocations(db, now);
  const policy = { defaultAudience: config.defaultAudience, accessTokenTtl: config.accessTokenTtl };
  const grants = createGrantRegistry([
    clientCredentialsGrant({ tokens, policy }),
    passwordGrant({
      users: createUserRepository(db),
      hasher: hasher ?? createPasswordHasher(config.argon2),
      throttle: createLoginThrottle(db, config.login, now),
      tokens,
      policy,
      now,
      withRefreshToken: async (response, grant) => ({
        ...response,
        refresh_token: await refreshTokens.issue({ ...grant, authTime: now() }),
      }),
    }),
    refreshTokenGrant({ refreshTokens, tokens, policy }),
  ]);
  const authenticateClient = createClientAuthenticator(createClientRepository(db), now);
  const introspect = createIntrospection({ keys, revocations, refreshTokens, issuer: config.issuer, now });
  await app.register(tokenRoute, { authenticateClient, grants });
  await app.register(introspectRoute, { authenticateClient, introspect });
  await app.register(revokeRoute, { authenticateClient, keys, revocations, refreshTokens });
  await app.register(metadataRoute, {
    issuer: config.issuer,
    grantTypes: [...grants.keys()],
    scopeCatalog: createScopeCatalog(db),
    endpoints: { introspection_endpoint: '/introspect', revocation_endpoint: '/revoke' },
  });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;

import formbody from '@fastify/formbody';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { notFoundHandler, oauthErrorHandler } from './oauth/error-handler.js';
import { healthRoutes } from './ops/health-routes.js';

export interface AppDeps {
  config: Config;
  db: Database;
  /** Schema version this build needs; /readyz compares the database against it. */
  migrationVersion: number;
  logger?: FastifyServerOptions['logger'];
  now?: () => Date;
}

// Small on purpose: an OAuth request is a few hundred bytes.
export const BODY_LIMIT_BYTES = 16 * 1024;

/** A ready Fastify instance wired to its dependencies. Never listens; tests drive it with inject. */
export async function buildApp({ db, migrationVersion, logger = false }: AppDeps) {
  const app = Fastify({
    logger,
    bodyLimit: BODY_LIMIT_BYTES,
    disableRequestLogging: false,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(oauthErrorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(formbody);
  await app.register(healthRoutes, { db, migrationVersion });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;

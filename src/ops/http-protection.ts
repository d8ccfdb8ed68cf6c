import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { OAuthError } from '../oauth/errors.js';

// Browsers may call these cross-origin when CORS is configured; introspection and revocation are
// for servers and stay same-origin.
const CORS_PATHS = ['/token', '/.well-known/jwks.json', '/.well-known/oauth-authorization-server'];
export const RATE_LIMITED_PATHS = ['/token', '/introspect', '/revoke'];

/** Security headers, load shedding, per-address rate limiting and CORS: the edges of the app. */
export async function httpProtection(app: FastifyInstance, config: Config) {
  // An API answers JSON only: nothing may be framed, scripted or embedded.
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });

  // Sheds load with 503 before the event loop stalls, so healthy requests keep their latency.
  if (config.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: config.maxEventLoopDelayMs,
      retryAfter: 1,
      pressureHandler: () => {
        throw new OAuthError('temporarily_unavailable', 'the server is overloaded: retry shortly', { retryAfter: 1 });
      },
    });
  }

  if (config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      // Only the OAuth endpoints are limited; JWKS, metadata and health stay cheap and open.
      allowList: (req) => !RATE_LIMITED_PATHS.includes(req.url.split('?')[0] ?? ''),
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      // request.ip honours SIGIL_TRUST_PROXY (Fastify's trustProxy), and ignores X-Forwarded-For otherwise.
      keyGenerator: (req) => req.ip,
      errorResponseBuilder: (_req, context) =>
        new OAuthError('invalid_request', `too many requests from this address: retry in ${Math.ceil(context.ttl / 1000)} seconds`, {
          status: 429,
          retryAfter: context.ttl / 1000,
        }),
    });
  }

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      delegator: (req, callback) => {
        const path = (req.url ?? '').split('?')[0] ?? '';
        callback(null, CORS_PATHS.includes(path) ? { origin: config.corsOrigins, methods: ['GET', 'POST'] } : { origin: false });
      },
    });
  }
}

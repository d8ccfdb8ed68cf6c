import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import type { Config } from '../config.js';
import { HttpError } from '../http/http-error.js';
import { watchEventLoopPressure } from './event-loop-pressure.js';

// Browsers may call these cross-origin when CORS is configured; introspection and revocation are
// for servers and stay same-origin.
const CORS_PATHS = ['/token', '/.well-known/jwks.json', '/.well-known/oauth-authorization-server'];
export const RATE_LIMITED_PATHS = ['/token', '/introspect', '/revoke'];

// An API answers JSON only: nothing may be framed, scripted or embedded. The JWKS and metadata
// are meant to be fetched from anywhere, hence the cross-origin resource policy. Helmet's headers
// for documents a browser renders (COOP, Origin-Agent-Cluster, X-DNS-Prefetch-Control,
// X-Download-Options, X-Permitted-Cross-Domain-Policies, X-XSS-Protection) are left out: Sigil
// serves none, and each costs every reply. What is left is OWASP's list for REST services.
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginResourcePolicy: { policy: 'cross-origin' },
  frameguard: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

/**
 * Helmet's headers, computed once. They depend on nothing in the request, and building them per
 * request (as @fastify/helmet does) cost more than serving the whole JWKS.
 */
export function securityHeaders(options: HelmetOptions = HELMET_OPTIONS): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string) => {
      headers[name.toLowerCase()] = value;
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  // Synchronous: helmet calls next() before it returns.
  helmet(options)({} as never, res as never, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure;
  return headers;
}

const API_HEADERS = securityHeaders();

/** The headers of every API answer: helmet's and the request id (the public documents have less). */
export function apiResponseHeaders(req: FastifyRequest, reply: FastifyReply): void {
  reply.headers(API_HEADERS).header('x-request-id', req.id);
}

export interface HttpProtectionOptions {
  /**
   * Paths of the public documents (the JWKS, the metadata): static JSON that servers fetch and
   * cache. They answer with `nosniff` alone: the other API headers (and the request id) guard
   * responses a browser might render or a client might report, and were a measurable share of the
   * cheapest and most requested answer's time (bench: jwks 0.64-0.69 → 0.69-0.78 of a static reply).
   */
  publicDocuments: readonly string[];
}

/** Security headers, load shedding, per-address rate limiting and CORS: the edges of the app. */
export async function httpProtection(app: FastifyInstance, config: Config, { publicDocuments }: HttpProtectionOptions) {
  const documents = new Set(publicDocuments);
  // Sheds load with 503 before the event loop stalls, so healthy requests keep their latency.
  const pressure = config.maxEventLoopDelayMs > 0 ? watchEventLoopPressure({ maxDelayMs: config.maxEventLoopDelayMs }) : undefined;
  if (pressure) app.addHook('onClose', () => pressure.stop());
  // One synchronous hook for every request, errors and 404s included: each hook costs every request.
  app.addHook('onRequest', (req, reply, done) => {
    if (documents.has(req.url)) reply.header('x-content-type-options', 'nosniff');
    else apiResponseHeaders(req, reply);
    if (pressure?.overloaded) done(new HttpError('overloaded', 'the server is overloaded: retry shortly', { retryAfter: 1 }));
    else done();
  });

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
        new HttpError('rate_limited', `too many requests from this address: retry in ${Math.ceil(context.ttl / 1000)} seconds`, {
          retryAfter: context.ttl / 1000,
        }),
    });
  }

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      delegator: (req, callback) => {
        const path = (req.url ?? '').split('?')[0] ?? '';
        callback(null, CORS_PATHS.includes(path) ? { origin: config.corsOrigins, methods: ['GET', 'POST'], exposedHeaders: ['DPoP-Nonce'] } : { origin: false });
      },
    });
  }
}

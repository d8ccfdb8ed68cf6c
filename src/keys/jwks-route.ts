import type { FastifyInstance } from 'fastify';
import type { KeyService } from './key-service.js';

export interface JwksRouteOptions {
  keys: Pick<KeyService, 'jwks' | 'maxAgeSeconds'>;
}

export const JWKS_PATH = '/.well-known/jwks.json';

// If-None-Match: `*`, or a list of (possibly weak) entity tags. Weak comparison (RFC 9110 §13.1.2).
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const strong = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || strong(tag) === strong(etag));
}

/**
 * The public keys, served from memory: the body is serialized once per key-set change, so this
 * costs about what a static reply does and keeps working while the database is down.
 */
export async function jwksRoute(app: FastifyInstance, { keys }: JwksRouteOptions) {
  const cacheControl = `public, max-age=${keys.maxAgeSeconds}`;
  // Synchronous on purpose: an async handler costs a promise and a microtask per request, a
  // measurable share of a reply this small (bench: jwks against a static JSON reply).
  app.get(JWKS_PATH, (req, reply) => {
    const { body, etag } = keys.jwks();
    reply.header('cache-control', cacheControl).header('etag', etag);
    if (matches(req.headers['if-none-match'], etag)) reply.code(304).send();
    else reply.type('application/jwk-set+json; charset=utf-8').send(body);
  });
}

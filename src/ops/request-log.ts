import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

// What a request's log line should say once a route knows it (no `declare module`, no decoration).
const annotations = new WeakMap<FastifyRequest, Record<string, string>>();

/**
 * Adds fields (client_id, grant) to the request's one log line: only values Sigil vouches for (an
 * authenticated client's id, a registered grant's name), never a parameter as the client sent it,
 * which may hold anything, a secret included.
 */
export function annotate(req: FastifyRequest, fields: Record<string, string>): void {
  annotations.set(req, { ...annotations.get(req), ...fields });
}

const REQUEST_ID = /^[\w.:@-]{1,128}$/;

/**
 * Request ids: an incoming X-Request-Id when it is a sane token (it goes into logs), else a fresh
 * one made of this app's random prefix and a counter: unique across instances and restarts (72
 * random bits), and much cheaper than a UUID per request (randomUUID refills its entropy cache
 * every 128 calls: about 2% of the CPU of the cheapest answer, the JWKS).
 */
export function createRequestIds(): (req: { headers: Record<string, string | string[] | undefined> }) => string {
  const prefix = randomBytes(9).toString('base64url');
  let issued = 0;
  return (req) => {
    const incoming = req.headers['x-request-id'];
    return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : `${prefix}-${(++issued).toString(36)}`;
  };
}

/**
 * One structured line per request, when it completes: request id, method, path (never the query
 * string), status, duration, and the client and grant where known. Never a header or a body.
 */
export async function requestLog(app: FastifyInstance) {
  // The request id is echoed by the response-header hook (http-protection.ts).
  // The level is fixed for the life of the process: below info the line would be dropped anyway.
  // (Without a logger, Fastify's stand-in has no isLevelEnabled.)
  const log = app.log as { isLevelEnabled?: (level: string) => boolean };
  if (!log.isLevelEnabled?.('info')) return;
  // Synchronous: an async hook costs a promise and a tick on every request.
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info(
      {
        method: req.method,
        path: req.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...annotations.get(req),
      },
      'request',
    );
    done();
  });
}

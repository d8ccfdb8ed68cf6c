import type { FastifyReply, onRequestHookHandler } from 'fastify';

/** RFC 6749 §5.1: token responses, and errors too, must never be cached. */
export function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/** onRequest hook: every reply of the plugin it is added to, errors included, is not cacheable. */
export const noStoreHook: onRequestHookHandler = (_req, reply, done) => {
  noStore(reply);
  done();
};

import type { FastifyInstance } from 'fastify';
import { OAuthError } from './errors.js';

const OTHER_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** Other methods on a POST-only endpoint: 405 with Allow, in the OAuth error shape. */
export function postOnly(app: FastifyInstance, url: string) {
  app.route({
    method: [...OTHER_METHODS],
    url,
    handler: async (_req, reply) => {
      reply.header('allow', 'POST');
      throw new OAuthError('invalid_request', `${url} accepts only POST`, { status: 405 });
    },
  });
}

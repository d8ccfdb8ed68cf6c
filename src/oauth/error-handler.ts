import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/errors.js';
import { OAuthError } from './errors.js';

// Fastify's own 4xx errors, in the words a client can act on.
const FRAMEWORK_ERRORS: Record<string, () => OAuthError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new OAuthError('invalid_request', 'the request body is too large', { status: 413 }),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new OAuthError('invalid_request', 'the request body is empty'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new OAuthError('invalid_request', 'the Content-Length header is wrong'),
};

// Clients retry after this many seconds while the database is away.
const RETRY_AFTER_SECONDS = 5;

function toOAuthError(err: FastifyError): OAuthError {
  if (err instanceof OAuthError) return err;
  if (isDatabaseUnavailable(err)) {
    return new OAuthError('temporarily_unavailable', 'the service is temporarily unavailable: retry shortly', {
      retryAfter: RETRY_AFTER_SECONDS,
      cause: err,
    });
  }
  const known = FRAMEWORK_ERRORS[err.code]?.();
  if (known) return known;
  if (err.validation) return new OAuthError('invalid_request', `malformed request: ${err.message}`);
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new OAuthError('invalid_request', 'malformed request', { status });
  return new OAuthError('server_error', 'the server could not handle the request', { cause: err });
}

export function oauthErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  return sendOAuthError(toOAuthError(err), req, reply);
}

/** The only place an error becomes a response: `{error, error_description}`, never a stack trace. */
export function sendOAuthError(e: OAuthError, req: FastifyRequest, reply: FastifyReply) {
  if (e.code === 'server_error') req.log.error({ err: e.cause }, 'request failed');
  else if (e.code === 'temporarily_unavailable') req.log.warn({ err: e.cause }, 'database unavailable');
  if (e.status === 401 && req.headers.authorization?.trimStart().toLowerCase().startsWith('basic')) {
    reply.header('www-authenticate', 'Basic realm="sigil", charset="UTF-8"');
  }
  if (e.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(e.retryAfter))));
  return reply
    .code(e.status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .type('application/json; charset=utf-8')
    .send({ error: e.code, ...(e.description && { error_description: e.description }) });
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply) {
  const path = req.url.split('?')[0];
  return sendOAuthError(new OAuthError('invalid_request', `no route for ${req.method} ${path}`, { status: 404 }), req, reply);
}

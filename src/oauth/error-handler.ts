import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, isUnstorableText } from '../db/errors.js';
import { authChallenge, toErrorText } from '../http/error-text.js';
import { HttpError } from '../http/http-error.js';
import { lingerAfterAnswer } from '../http/lingering-close.js';
import { OAuthError } from './errors.js';

// Fastify's own 4xx errors, in the words a client can act on.
const FRAMEWORK_ERRORS: Record<string, () => OAuthError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new OAuthError('invalid_request', 'the request body is too large', { status: 413 }),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new OAuthError('invalid_request', 'the request body is empty'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new OAuthError('invalid_request', 'the Content-Length header is wrong'),
  FST_ERR_BAD_URL: () => new OAuthError('invalid_request', 'the URL is not validly percent-encoded'),
  FST_ERR_MAX_PARAM_LENGTH: () => new OAuthError('invalid_request', 'a path segment is too long', { status: 414 }),
};

// Clients retry after this many seconds while the database is away.
const RETRY_AFTER_SECONDS = 5;

// ops/ raises HTTP-level refusals in no surface's words; on this surface they are §5.2 errors.
const HTTP_ERRORS = {
  overloaded: 'temporarily_unavailable',
  rate_limited: 'invalid_request',
  unauthorized: 'invalid_client',
} as const;

function toOAuthError(err: FastifyError): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof HttpError) {
    return new OAuthError(HTTP_ERRORS[err.kind], err.description, { status: err.status, retryAfter: err.retryAfter });
  }
  if (isUnstorableText(err)) return new OAuthError('invalid_request', 'a parameter contains U+0000');
  if (isDatabaseUnavailable(err)) {
    return new OAuthError('temporarily_unavailable', 'the service is temporarily unavailable: retry shortly', {
      retryAfter: RETRY_AFTER_SECONDS,
      cause: err,
    });
  }
  const known = FRAMEWORK_ERRORS[err.code]?.();
  if (known) return known;
  // A validation message may quote the input: say which part of the request was wrong, not how.
  if (err.validation) return new OAuthError('invalid_request', `malformed request: the ${validationPart(err)} is invalid`);
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new OAuthError('invalid_request', 'malformed request', { status });
  return new OAuthError('server_error', 'the server could not handle the request', { cause: err });
}

function validationPart(err: FastifyError): string {
  const part = { body: 'request body', querystring: 'query string', params: 'path', headers: 'request headers' };
  return part[err.validationContext as keyof typeof part] ?? 'request';
}

export function oauthErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  return sendOAuthError(toOAuthError(err), req, reply);
}

/**
 * The only place an error becomes a response: `{error, error_description}`, never a stack trace.
 * The description goes through toErrorText, so it keeps to RFC 6749 §5.2's charset whatever it
 * was built from.
 */
export function sendOAuthError(e: OAuthError, req: FastifyRequest, reply: FastifyReply) {
  if (e.code === 'server_error') req.log.error({ err: e.cause }, 'request failed');
  else if (e.code === 'temporarily_unavailable') req.log.warn({ err: e.cause }, 'database unavailable');
  if (e.status === 401 && req.headers.authorization?.trimStart().toLowerCase().startsWith('basic')) {
    reply.header('www-authenticate', authChallenge('Basic', { realm: 'sigil', charset: 'UTF-8' }));
  }
  // Answered before the body was read: let the client finish sending, so that it sees the answer.
  if (e.status === 413) {
    reply.removeHeader('connection');
    lingerAfterAnswer(req.raw, reply.raw);
  }
  if (e.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(e.retryAfter))));
  return reply
    .code(e.status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .type('application/json; charset=utf-8')
    .send({ error: e.code, ...(e.description && { error_description: toErrorText(e.description) }) });
}

/** Unknown paths: the method is one Fastify knows (a token), the path is never repeated. */
export function notFoundHandler(req: FastifyRequest, reply: FastifyReply) {
  return sendOAuthError(new OAuthError('invalid_request', `there is no ${toErrorText(req.method, 16)} endpoint at this path`, { status: 404 }), req, reply);
}

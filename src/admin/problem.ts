import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ConflictError, InvalidInputError, isDatabaseUnavailable, isUnstorableText, NotFoundError, PreconditionFailedError } from '../db/errors.js';

// RFC 9457 problem details: the one error type of the admin API, and (adminErrorHandler) the one
// place one becomes a response. Every kind has a stable `type` URI that clients may switch on.

export type ProblemKind =
  | 'invalid-input'
  | 'unauthorized'
  | 'invalid-token'
  | 'insufficient-scope'
  | 'not-found'
  | 'method-not-allowed'
  | 'conflict'
  | 'precondition-failed'
  | 'unsupported-media-type'
  | 'payload-too-large'
  | 'uri-too-long'
  | 'rate-limited'
  | 'unavailable'
  | 'server-error';

const KINDS: Readonly<Record<ProblemKind, { status: number; title: string }>> = {
  'invalid-input': { status: 400, title: 'The request is invalid' },
  unauthorized: { status: 401, title: 'An admin access token is required' },
  'invalid-token': { status: 401, title: 'The access token is not valid here' },
  'insufficient-scope': { status: 403, title: 'The access token lacks the scope this needs' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'The request conflicts with the current state of the resource' },
  'precondition-failed': { status: 412, title: 'The resource changed since that ETag' },
  'unsupported-media-type': { status: 415, title: 'Unsupported content type' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'uri-too-long': { status: 414, title: 'A path segment is too long' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  unavailable: { status: 503, title: 'Temporarily unavailable' },
  'server-error': { status: 500, title: 'Internal server error' },
};

/** The stable `type` of a problem kind (documented in docs/admin-api.md). */
export const problemType = (kind: ProblemKind) => `urn:sigil:problem:${kind}`;

export interface FieldError {
  field: string;
  detail: string;
}

export interface ProblemOptions extends ErrorOptions {
  errors?: FieldError[];
  /** WWW-Authenticate (RFC 6750 §3), for the door's 401 and 403. */
  challenge?: string;
  retryAfter?: number;
}

export class Problem extends Error {
  override name = 'Problem';
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly challenge: string | undefined;
  readonly retryAfter: number | undefined;
  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    o: ProblemOptions = {},
  ) {
    super(detail, o);
    this.status = KINDS[kind].status;
    this.errors = o.errors;
    this.challenge = o.challenge;
    this.retryAfter = o.retryAfter;
  }
}

/**
 * Text for a problem body: printable ASCII without `"` or `\` (the RFC 6749 §5.2 charset, which
 * the whole of Sigil keeps to). Service messages never carry input; this keeps stray symbols
 * (a section sign, say) out too.
 */
export const safeText = (s: string) =>
  s
    .replace(/§\s*/g, 'section ')
    .replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '')
    .slice(0, 300);

// zod issue paths from Fastify's validation, by part of the request.
const PART_NAMES: Record<string, string> = { body: '', querystring: '', params: '', headers: 'header ' };

interface ValidationItem {
  keyword?: string;
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** A zod issue as a field error, in our words: never the input, never a key the client made up. */
function fieldError(v: ValidationItem, part: string): FieldError | undefined {
  const segments = (v.instancePath ?? '').split('/').filter(Boolean);
  const field = segments.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
  const prefix = PART_NAMES[part] ?? '';
  switch (v.keyword) {
    case 'unrecognized_keys':
      return { field: field || part, detail: `${prefix || 'the '}${part} has a field this route does not take` };
    case 'invalid_type':
      return { field, detail: `${field || part} has the wrong type${v.params?.expected ? ` (expected ${String(v.params.expected)})` : ''}` };
    case 'invalid_value':
      return { field, detail: `${field} is not one of the allowed values` };
    default:
      return { field, detail: `${field || part} ${v.message ?? 'is invalid'}` };
  }
}

const FRAMEWORK: Record<string, () => Problem> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new Problem('unsupported-media-type', 'the request body must be application/json (or application/merge-patch+json for PATCH)'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new Problem('payload-too-large', 'the request body is too large'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new Problem('invalid-input', 'the request body is empty', { errors: [{ field: 'body', detail: 'is empty' }] }),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new Problem('invalid-input', 'the Content-Length header is wrong'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new Problem('invalid-input', 'the request body is not valid JSON', { errors: [{ field: 'body', detail: 'is not valid JSON' }] }),
  FST_ERR_BAD_URL: () => new Problem('invalid-input', 'the URL is not validly percent-encoded', { errors: [{ field: 'path', detail: 'is not validly percent-encoded' }] }),
  FST_ERR_MAX_PARAM_LENGTH: () => new Problem('uri-too-long', 'a path segment is longer than any id'),
};

/** Any error as a Problem: the services' errors by type, Fastify's by code, the rest a 500. */
export function toProblem(err: FastifyError | Error, notFound = 'no such resource'): Problem {
  if (err instanceof Problem) return err;
  if (err instanceof InvalidInputError) {
    const detail = safeText(err.message);
    return new Problem('invalid-input', detail, { errors: [{ field: err.field ?? 'body', detail }] });
  }
  if (err instanceof NotFoundError) return new Problem('not-found', notFound);
  if (err instanceof ConflictError) return new Problem('conflict', safeText(err.message));
  if (err instanceof PreconditionFailedError) return new Problem('precondition-failed', safeText(err.message));
  if (isUnstorableText(err)) return new Problem('invalid-input', 'a value contains U+0000, which no text field can hold');
  if (isDatabaseUnavailable(err)) return new Problem('unavailable', 'the database is unavailable: retry shortly', { retryAfter: 5, cause: err });
  const fe = err as FastifyError;
  const known = fe.code ? FRAMEWORK[fe.code]?.() : undefined;
  if (known) return known;
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err instanceof SyntaxError && fe.statusCode === 400)) {
    return new Problem('invalid-input', 'the request body is not valid JSON', { errors: [{ field: 'body', detail: 'is not valid JSON' }] });
  }
  if (Array.isArray(fe.validation)) {
    const part = fe.validationContext ?? 'body';
    const errors = (fe.validation as ValidationItem[]).map((v) => fieldError(v, part)).filter((e): e is FieldError => !!e);
    const safe = errors.map((e) => ({ field: safeText(e.field), detail: safeText(e.detail) }));
    return new Problem('invalid-input', safe[0]?.detail ?? `the ${part} is invalid`, { errors: safe });
  }
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return new Problem('invalid-input', 'the request is malformed');
  return new Problem('server-error', 'the server could not handle the request', { cause: err });
}

/** The only place an admin error becomes a response (the OAuth routes keep theirs). */
export function sendProblem(p: Problem, req: FastifyRequest, reply: FastifyReply) {
  if (p.kind === 'server-error') req.log.error({ err: p.cause }, 'admin request failed');
  else if (p.kind === 'unavailable') req.log.warn({ err: p.cause }, 'database unavailable');
  if (p.challenge) reply.header('www-authenticate', p.challenge);
  if (p.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(p.retryAfter))));
  return reply
    .code(p.status)
    .header('cache-control', 'no-store')
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: problemType(p.kind),
        title: KINDS[p.kind].title,
        status: p.status,
        detail: safeText(p.detail),
        ...(p.errors && { errors: p.errors }),
      }),
    );
}

export function adminErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const notFound = (req.routeOptions.config as { notFound?: string } | undefined)?.notFound;
  return sendProblem(toProblem(err, notFound), req, reply);
}

import type { FastifyRequest } from 'fastify';
import { OAuthError } from './errors.js';

/** A parsed form: every parameter once, except those a spec lets repeat (RFC 8707 `resource`). */
export type FormParams = Record<string, string | string[]>;

const FORM = 'application/x-www-form-urlencoded';

export interface FormShape {
  /** The endpoint's parameters; any other is ignored, however it is sent (RFC 6749 §3.1). */
  known: readonly string[];
  /** Those a spec lets repeat (RFC 8707 `resource`). */
  repeatable?: readonly string[];
}

/**
 * The request's known form parameters. OAuth endpoints take only form bodies (RFC 6749 §3.2), and
 * a known parameter sent twice is invalid_request (§3.1), unless it is repeatable.
 */
export function readForm(req: FastifyRequest, { known, repeatable = [] }: FormShape): FormParams {
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== FORM) {
    throw new OAuthError('invalid_request', `the request body must be ${FORM}`);
  }
  const body = (req.body ?? {}) as Record<string, unknown>;
  const params: FormParams = {};
  for (const [name, value] of Object.entries(body)) {
    if (!known.includes(name)) continue;
    if (Array.isArray(value) && !repeatable.includes(name)) {
      throw new OAuthError('invalid_request', `the ${name} parameter was sent more than once`);
    }
    // An empty value counts as absent (RFC 6749 §3.1).
    if (value === '') continue;
    // No OAuth parameter can hold a NUL, and PostgreSQL text cannot store one.
    if ((Array.isArray(value) ? value : [value]).some((v) => String(v).includes('\u0000'))) {
      throw new OAuthError('invalid_request', `the ${name} parameter contains a NUL character`);
    }
    params[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return params;
}

/** One parameter as a plain string (or undefined). */
export function single(params: FormParams, name: string): string | undefined {
  const v = params[name];
  return Array.isArray(v) ? v[0] : v;
}

export function list(params: FormParams, name: string): string[] {
  const v = params[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

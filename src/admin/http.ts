import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Problem } from './problem.js';

/** A strong ETag from a resource's version. */
export const etag = (version: number | string) => `"${version}"`;

/**
 * The version an If-Match header asks for: undefined when absent or `*` (no precondition beyond
 * existence). A malformed header is bad input, not a silent overwrite.
 */
export function ifMatch(req: FastifyRequest): string | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const v = (Array.isArray(h) ? h.join(',') : h).trim();
  if (v === '*') return undefined;
  const m = /^(?:W\/)?"([\x21\x23-\x7e]{1,200})"$/.exec(v);
  if (!m?.[1]) throw new Problem('invalid-input', 'If-Match must be one ETag as this API sent it', { errors: [{ field: 'If-Match', detail: 'is not one quoted ETag' }] });
  return m[1];
}

/** If-Match as a numeric version (users, roles): a value that is no number can match nothing. */
export function ifMatchNumber(req: FastifyRequest): number | undefined {
  const v = ifMatch(req);
  if (v === undefined) return undefined;
  return /^\d{1,9}$/.test(v) ? Number(v) : -1;
}

/** The `next` link of a page: this request's path and query with `after` set (relative URL). */
export function nextLink(req: FastifyRequest, next: string | null): string | null {
  if (next === null) return null;
  const url = new URL(req.url, 'http://x');
  url.searchParams.set('after', next);
  return `${url.pathname}?${url.searchParams.toString()}`;
}

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(200).optional().describe('items per page (default 50, at most 200)'),
  after: z.string().max(2000).optional().describe('the cursor from the previous page (its `next` link has it)'),
};

export const IdParams = z.object({ id: z.string().min(1).max(255) });

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ field: z.string(), detail: z.string() })).optional(),
  })
  .describe('RFC 9457 problem details (application/problem+json)');

export const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, ProblemSchema]));

export const sendWithEtag = <T>(reply: FastifyReply, version: number | string, body: T, status = 200) =>
  reply.code(status).header('etag', etag(version)).send(body);

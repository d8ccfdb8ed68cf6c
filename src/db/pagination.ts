import { InvalidInputError } from './errors.js';

/** One page of a list, and the opaque cursor of the next one (null on the last page). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface PageRequest {
  /** Items per page: 1 to MAX_PAGE_SIZE, default DEFAULT_PAGE_SIZE. */
  limit?: number | undefined;
  /** The `next` cursor of the previous page. */
  after?: string | undefined;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

// A cursor is the sort key of the last item seen, versioned, in base64url: opaque to callers (they
// only hand it back), so the order behind it may change without breaking their URLs' shape.
const PREFIX = 'k1:';

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new InvalidInputError(`the limit must be an integer from 1 to ${MAX_PAGE_SIZE}`, { field: 'limit' });
  }
  return limit;
}

export const encodeCursor = (key: string): string => Buffer.from(PREFIX + key, 'utf8').toString('base64url');

/** The sort key inside a cursor; a cursor not made by encodeCursor is invalid input. */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const text = /^[A-Za-z0-9_-]{1,2000}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!text.startsWith(PREFIX) || encodeCursor(text.slice(PREFIX.length)) !== cursor) {
    throw new InvalidInputError('the after cursor is not one this server handed out', { field: 'after' });
  }
  return text.slice(PREFIX.length);
}

/** `rows` were fetched with limit + 1: the extra row only says that there is a next page. */
export function toPage<T>(rows: T[], limit: number, keyOf: (item: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

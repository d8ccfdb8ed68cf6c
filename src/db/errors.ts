/** A row the caller named does not exist. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The change would break a uniqueness rule (a taken username or client id). */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

const code = (err: unknown) => (err as { code?: unknown } | null)?.code;

export const isUniqueViolation = (err: unknown) => code(err) === '23505';

/**
 * A text value PostgreSQL cannot hold (U+0000 in a parameter: 22021 character_not_in_repertoire;
 * 22P05 untranslatable_character): the input's fault, wherever it came in, never a server error.
 */
export const isUnstorableText = (err: unknown) => code(err) === '22021' || code(err) === '22P05';

/**
 * Whether PostgreSQL can hold the string as text: no U+0000, no unpaired surrogate. A batched
 * statement checks its keys with this first, since one such key would fail the whole batch.
 */
export function storableText(s: string): boolean {
  return !NOT_STORABLE.test(s);
}
const NOT_STORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Input that the store's rules refuse (an empty name, an unknown grant type). `field` names the
 * input that is wrong, as the HTTP surfaces call it (`username`, `roles`, `after`…), so a
 * problem+json body can point at it; the message never repeats the input itself.
 */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  readonly field: string | undefined;
  constructor(message: string, options: ErrorOptions & { field?: string } = {}) {
    super(message, options);
    this.field = options.field;
  }
}

/** The caller expected another version of the row than the stored one (a stale ETag): nothing changed. */
export class PreconditionFailedError extends Error {
  override name = 'PreconditionFailedError';
}

// Connection failures (node), and PostgreSQL's connection exceptions (class 08), shutdowns and
// cancellations (57P01–57P03, 57014 statement timeout) and too many connections (53300).
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '57014',
  '53300',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection error|Client was closed|Cannot use a pool after calling end/i;

/** The database cannot be reached or did not answer in time: a 503, not a bug. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const c = code(err);
  if (typeof c === 'string' && (UNAVAILABLE_CODES.has(c) || c.startsWith('08'))) return true;
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message);
}

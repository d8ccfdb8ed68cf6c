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

/** Input that the store's rules refuse (an empty name, an unknown grant type). */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}

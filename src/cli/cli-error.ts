import { ConfigError } from '../config.js';
import { DataDirInUseError } from '../db/embedded.js';
import { ConflictError, InvalidInputError, NotFoundError, PreconditionFailedError } from '../db/errors.js';
import { MigrationError } from '../db/migrate.js';

/** A failure worded for the operator: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

const EXPECTED = [
  CliError,
  ConfigError,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  PreconditionFailedError,
  MigrationError,
  DataDirInUseError,
];

/** The one line to print for a failed command. Expected failures speak for themselves. */
export function describeFailure(err: unknown): string {
  if (EXPECTED.some((type) => err instanceof type)) return (err as Error).message;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND') return `cannot reach the database: ${e.message}`;
  return `unexpected error: ${e?.message ?? String(err)}`;
}

import { z } from 'zod';
import { SCOPE_TOKEN } from '../clients/client-service.js';
import { InvalidInputError } from '../db/errors.js';

// What users and roles accept, shared by both services. Messages name the field and the item
// (`scopes[2]`), never the value: they end up in problem+json bodies and CLI output.

export const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
export const MAX_SCOPES = 256;
export const MAX_ROLES = 100;

export const ScopesSchema = z
  .array(z.string().max(255, 'is too long').regex(SCOPE_TOKEN, 'is not a valid scope token (RFC 6749 §3.3)'))
  .max(MAX_SCOPES, `at most ${MAX_SCOPES} scopes`)
  .transform((xs) => [...new Set(xs)].sort());

export const RoleNameSchema = z
  .string()
  .regex(ROLE_NAME, 'must be 1 to 64 letters, digits or . _ : - (starting with a letter or digit)');

/** Role names, without duplicates regardless of case (the first spelling wins). */
export const RoleNamesSchema = z
  .array(RoleNameSchema)
  .max(MAX_ROLES, `at most ${MAX_ROLES} roles`)
  .transform((xs) => xs.filter((x, i) => xs.findIndex((y) => y.toLowerCase() === x.toLowerCase()) === i));

const where = (path: PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');

/** Parses `input` or throws InvalidInputError naming the first wrong field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path ?? [];
  const field = typeof path[0] === 'string' ? path[0] : undefined;
  const message = issue?.code === 'invalid_type' ? `has the wrong type (expected ${issue.expected})` : (issue?.message ?? 'is invalid');
  throw new InvalidInputError(path.length ? `${where(path)} ${message}` : message, field ? { field } : {});
}

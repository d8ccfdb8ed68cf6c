import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Client, GrantType } from '../../clients/types.js';
import type { IssuedAccessToken } from '../../tokens/access-token.js';
import { OAuthError } from '../errors.js';
import type { DpopBinding } from '../dpop/dpop-check.js';
import type { FormParams } from '../form.js';

export interface TokenResponse extends IssuedAccessToken {
  refresh_token?: string;
}

/** A grant declares its parameters and the client permission it needs, and turns them into tokens. */
export interface Grant<P = unknown> {
  type: string;
  /** The grant type a client must be allowed to use this grant (checked by the token route). */
  requires?: GrantType;
  params: z.ZodType<P>;
  /** `dpop`: the key of the request's valid DPoP proof, when it had one: tokens are bound to it. */
  handle(client: Client, params: P, req: FastifyRequest, dpop?: DpopBinding): Promise<TokenResponse>;
}

/** Validates a grant's parameters, naming the first problem as invalid_request. */
export function parseGrantParams<P>(grant: Grant<P>, params: FormParams): P {
  const parsed = grant.params.safeParse(params);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = issue?.path[0];
  // Only the messages the schemas set themselves (too_big) are used: zod's own may quote the input.
  const what =
    issue?.code === 'invalid_type' && issue.input === undefined ? 'is missing' : issue?.code === 'too_big' ? issue.message : 'is invalid';
  throw new OAuthError('invalid_request', name === undefined ? what : `the ${String(name)} parameter ${what}`);
}

/** The token endpoint's grants by grant_type (only this file is an index of things). */
export type GrantRegistry = ReadonlyMap<string, Grant>;

export function createGrantRegistry(grants: Grant<unknown>[]): GrantRegistry {
  return new Map(grants.map((g) => [g.type, g]));
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { authChallenge } from '../http/error-text.js';
import type { Audit } from '../ops/audit.js';
import { bearerToken, type BearerVerifier } from '../tokens/bearer-verifier.js';
import type { RefreshTokenStore } from '../tokens/refresh-tokens.js';
import type { createPasswordChange } from '../users/password-change.js';
import { MAX_PASSWORD_LENGTH } from '../users/passwords.js';

export const ACCOUNT_PASSWORD_PATH = '/account/password';

const Body = z.object({
  current_password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  new_password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  /** The calling session's refresh token: its family is the one session that stays. */
  refresh_token: z.string().min(1).max(256).optional(),
});

export interface AccountPasswordRouteOptions {
  verifyBearer: BearerVerifier;
  changePassword: ReturnType<typeof createPasswordChange>;
  refreshTokens: Pick<RefreshTokenStore, 'inspect'>;
  audit: Audit;
}

const PROBLEM = 'application/problem+json';
const problem = (reply: FastifyReply, status: number, type: string, title: string, extra: object = {}) =>
  reply.code(status).type(PROBLEM).send({ type: `urn:sigil:problem:${type}`, title, status, ...extra });

// RFC 6750 §3: no credentials, no error code; a bad token, invalid_token.
const challenge = (reply: FastifyReply, description?: string) =>
  reply
    .code(401)
    .header(
      'www-authenticate',
      authChallenge('Bearer', description ? { realm: 'sigil', error: 'invalid_token', error_description: description } : { realm: 'sigil' }),
    )
    .type(PROBLEM)
    .send({ type: 'urn:sigil:problem:unauthorized', title: description ?? 'a Bearer access token is needed', status: 401 });

/**
 * A user changes her own password with her own access token (any audience: the token names the
 * user and the session, and the current password, checked under the login's brute-force
 * protection, is what proves it is her).
 */
export async function accountPasswordRoute(app: FastifyInstance, o: AccountPasswordRouteOptions) {
  const callers = new WeakMap<FastifyRequest, { userId: string; clientId: string }>();
  // At the door, before the body is even parsed: an anonymous request learns nothing else.
  const door = async (req: FastifyRequest, reply: FastifyReply) => {
    const presented = bearerToken(req.headers.authorization);
    if ('missing' in presented) return challenge(reply);
    if ('malformed' in presented) return challenge(reply, 'the Authorization header is not a Bearer token');
    const verdict = await o.verifyBearer(presented.token);
    if (!verdict.ok) return challenge(reply, 'the access token is invalid, expired or revoked');
    if (!verdict.userId) return challenge(reply, 'the access token does not belong to a user');
    callers.set(req, { userId: verdict.userId, clientId: verdict.clientId });
  };
  app.post(ACCOUNT_PASSWORD_PATH, { onRequest: door }, async (req, reply) => {
    const verdict = callers.get(req);
    if (!verdict) throw new Error('the account door let a request through without a caller');

    const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') {
      return problem(reply, 415, 'unsupported-media-type', 'the body must be application/json or application/x-www-form-urlencoded');
    }
    const parsed = Body.safeParse(req.body);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => ({
        field: String(i.path[0] ?? 'body'),
        detail: i.code === 'invalid_type' && i.input === undefined ? 'is missing' : 'is invalid',
      }));
      return problem(reply, 400, 'invalid-request', 'the request body is invalid', { errors });
    }
    const body = parsed.data;
    const session = body.refresh_token ? await o.refreshTokens.inspect(body.refresh_token) : undefined;
    const result = await o.changePassword({
      userId: verdict.userId,
      currentPassword: body.current_password,
      newPassword: body.new_password,
      address: req.ip,
      keepFamilyId: session?.userId === verdict.userId ? session.familyId : undefined,
    });
    if (!result.ok && result.reason === 'locked') {
      reply.header('retry-after', String(result.retryAfter));
      return problem(reply, 429, 'too-many-attempts', 'too many failed attempts: try again later', { retry_after: result.retryAfter });
    }
    if (!result.ok) {
      o.audit({ event: 'password_change_failed', user_id: verdict.userId, client_id: verdict.clientId, address: req.ip });
      return problem(reply, 403, 'wrong-password', 'the current password is not correct');
    }
    o.audit({ event: 'password_changed', user_id: verdict.userId, client_id: verdict.clientId, sessions_ended: result.sessionsEnded });
    return reply.code(204).send();
  });
}

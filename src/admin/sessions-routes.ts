import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../db/errors.js';
import type { RefreshFamilyInfo, RefreshTokenStore } from '../tokens/refresh-tokens.js';
import type { UserService } from '../users/user-service.js';
import type { AdminContext } from './admin-api.js';
import { IdParams, nextLink, PageQuery, problems } from './http.js';

const SessionSchema = z
  .object({
    id: z.string().describe('the refresh-token family'),
    client_id: z.string(),
    scopes: z.array(z.string()),
    created_at: z.string().describe('the login'),
    last_used_at: z.string().nullable().describe('the last refresh (null: none since the login)'),
    expires_at: z.string().describe('when it ends unless refreshed before'),
    absolute_expires_at: z.string().describe('when it ends at the latest'),
    dpop_bound: z.boolean().describe('its refresh tokens are bound to a DPoP key (RFC 9449)'),
  })
  .describe('a live login of the user: never a token');
const sessionView = (f: RefreshFamilyInfo): z.infer<typeof SessionSchema> => ({
  id: f.familyId,
  client_id: f.clientId,
  scopes: f.scopes,
  created_at: f.createdAt.toISOString(),
  last_used_at: f.lastUsedAt?.toISOString() ?? null,
  expires_at: f.expiresAt.toISOString(),
  absolute_expires_at: f.absoluteExpiresAt.toISOString(),
  dpop_bound: f.dpopBound,
});
const FamilyParams = IdParams.extend({ family: z.string().min(1).max(255) });

/** A user's sessions (refresh-token families): list, end one, end all. Ending one also makes its access tokens inactive at introspection (their `sid`). */
export function sessionsRoutes(app: FastifyInstance, { users, refreshTokens, audit }: AdminContext & { users: UserService; refreshTokens: RefreshTokenStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: sessions'];
  const userNotFound = 'no user with this id';

  r.get(
    '/users/:id/sessions',
    {
      config: { access: 'read', notFound: userNotFound },
      schema: {
        tags,
        summary: "List a user's live sessions (refresh-token families)",
        params: IdParams,
        querystring: z.object(PageQuery),
        response: { 200: z.object({ items: z.array(SessionSchema), next: z.string().nullable() }), ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const u = await users.get({ id: req.params.id });
      const page = await refreshTokens.listFamilies(u.id, { limit: req.query.limit, after: req.query.after });
      return { items: page.items.map(sessionView), next: nextLink(req, page.next) };
    },
  );
  r.delete(
    '/users/:id/sessions/:family',
    {
      config: { access: 'write', notFound: 'no session with this id for this user' },
      schema: { tags, summary: 'End one session: its refresh token stops working at once', params: FamilyParams, response: { 204: z.null(), ...problems(401, 403, 404) } },
    },
    async (req, reply) => {
      const result = await refreshTokens.revokeFamily(req.params.id, req.params.family, 'admin');
      if (result === 'unknown') throw new NotFoundError('no such session');
      if (result === 'ended') audit(req, 'session.end', `user:${req.params.id}/session:${req.params.family}`);
      return reply.code(204).send(null);
    },
  );
  r.delete(
    '/users/:id/sessions',
    {
      config: { access: 'write', notFound: userNotFound },
      schema: {
        tags,
        summary: 'End every session of the user',
        params: IdParams,
        response: { 200: z.object({ ended: z.number().int().describe('how many sessions were live') }), ...problems(401, 403, 404) },
      },
    },
    async (req) => {
      const u = await users.get({ id: req.params.id });
      const ended = await refreshTokens.revokeAll({ userId: u.id }, 'admin');
      audit(req, 'session.end_all', `user:${u.id}`);
      return { ended };
    },
  );
}

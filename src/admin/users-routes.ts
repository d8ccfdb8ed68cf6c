import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RoleService } from '../users/role-service.js';
import type { UserService } from '../users/user-service.js';
import { userView } from '../users/user-view.js';
import type { AdminContext } from './admin-api.js';
import { IdParams, ifMatchNumber, nextLink, PageQuery, problems, sendWithEtag } from './http.js';

const UserSchema = z.object({
  id: z.string(),
  username: z.string(),
  roles: z.array(z.string()),
  scopes: z.array(z.string()),
  disabled: z.boolean(),
  has_password: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});

// Shapes only: the service checks each value (names, scope tokens, lengths) and names the field.
const Strings = z.array(z.string());
const NewUser = z.object({
  username: z.string(),
  password: z.string().nullish(),
  roles: Strings.optional(),
  scopes: Strings.optional(),
  disabled: z.boolean().optional(),
});
const UserPatch = z.strictObject({ roles: Strings.optional(), scopes: Strings.optional(), disabled: z.boolean().optional() });
const ListQuery = z.object({
  ...PageQuery,
  username_prefix: z.string().optional().describe('usernames starting with this (case-insensitive)'),
  role: z.string().optional().describe('holders of this role only'),
});
const notFound = 'no user with this id';

export function usersRoutes(app: FastifyInstance, { users, audit }: AdminContext & { users: UserService; roles: RoleService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: users'];

  r.post(
    '/users',
    { config: { access: 'write' }, schema: { tags, summary: 'Create a user (with or without a password)', body: NewUser, response: { 201: UserSchema, ...problems(400, 401, 403, 409, 415) } } },
    async (req, reply) => {
      const u = await users.create(req.body);
      audit(req, 'user.create', `user:${u.id}`);
      return sendWithEtag(reply, u.version, userView(u), 201);
    },
  );
  r.get(
    '/users',
    { config: { access: 'read' }, schema: { tags, summary: 'List users', querystring: ListQuery, response: { 200: z.object({ items: z.array(UserSchema), next: z.string().nullable() }), ...problems(400, 401, 403) } } },
    async (req) => {
      const q = req.query;
      const page = await users.list({ limit: q.limit, after: q.after, usernamePrefix: q.username_prefix, role: q.role });
      return { items: page.items.map(userView), next: nextLink(req, page.next) };
    },
  );
  r.get(
    '/users/:id',
    { config: { access: 'read', notFound }, schema: { tags, summary: 'Get a user', params: IdParams, response: { 200: UserSchema, ...problems(401, 403, 404) } } },
    async (req, reply) => {
      const u = await users.get({ id: req.params.id });
      return sendWithEtag(reply, u.version, userView(u));
    },
  );
  r.patch(
    '/users/:id',
    {
      config: { access: 'write', notFound },
      schema: { tags, summary: 'Change roles, direct scopes or disabled (JSON or merge patch)', params: IdParams, body: UserPatch, response: { 200: UserSchema, ...problems(400, 401, 403, 404, 412, 415) } },
    },
    async (req, reply) => {
      const u = await users.update({ id: req.params.id }, req.body, { expectedVersion: ifMatchNumber(req) });
      audit(req, 'user.update', `user:${u.id}`);
      return sendWithEtag(reply, u.version, userView(u));
    },
  );
  r.put(
    '/users/:id/password',
    {
      config: { access: 'write', notFound },
      schema: { tags, summary: "Set a user's password", params: IdParams, body: z.object({ password: z.string() }), response: { 204: z.null(), ...problems(400, 401, 403, 404, 412, 415) } },
    },
    async (req, reply) => {
      const u = await users.setPassword({ id: req.params.id }, req.body.password, { expectedVersion: ifMatchNumber(req) });
      audit(req, 'user.set_password', `user:${u.id}`);
      return reply.code(204).header('etag', `"${u.version}"`).send(null);
    },
  );
  r.delete(
    '/users/:id',
    { config: { access: 'write', notFound }, schema: { tags, summary: 'Delete a user', params: IdParams, response: { 204: z.null(), ...problems(401, 403, 404, 412) } } },
    async (req, reply) => {
      const u = await users.delete({ id: req.params.id }, { expectedVersion: ifMatchNumber(req) });
      audit(req, 'user.delete', `user:${u.id}`);
      return reply.code(204).send(null);
    },
  );
}

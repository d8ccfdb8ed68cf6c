import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Role, RoleService } from '../users/role-service.js';
import type { AdminContext } from './admin-api.js';
import { ifMatchNumber, nextLink, PageQuery, problems, sendWithEtag } from './http.js';

const RoleSchema = z.object({ id: z.string(), name: z.string(), scopes: z.array(z.string()), created_at: z.string(), updated_at: z.string() });
const roleView = (r: Role): z.infer<typeof RoleSchema> => ({
  id: r.id,
  name: r.name,
  scopes: r.scopes,
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
});
const NameParams = z.object({ name: z.string().min(1).max(255) });
const notFound = 'no role with this name';

/** Roles are named by their name in paths (what tokens and the CLI call them). */
export function rolesRoutes(app: FastifyInstance, { roles, audit }: AdminContext & { roles: RoleService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: roles'];

  r.post(
    '/roles',
    {
      config: { access: 'write' },
      schema: { tags, summary: 'Create a role', body: z.object({ name: z.string(), scopes: z.array(z.string()).optional() }), response: { 201: RoleSchema, ...problems(400, 401, 403, 409, 415) } },
    },
    async (req, reply) => {
      const role = await roles.create(req.body);
      audit(req, 'role.create', `role:${role.name}`);
      return sendWithEtag(reply, role.version, roleView(role), 201);
    },
  );
  r.get(
    '/roles',
    { config: { access: 'read' }, schema: { tags, summary: 'List roles', querystring: z.object(PageQuery), response: { 200: z.object({ items: z.array(RoleSchema), next: z.string().nullable() }), ...problems(400, 401, 403) } } },
    async (req) => {
      const page = await roles.list({ limit: req.query.limit, after: req.query.after });
      return { items: page.items.map(roleView), next: nextLink(req, page.next) };
    },
  );
  r.get(
    '/roles/:name',
    { config: { access: 'read', notFound }, schema: { tags, summary: 'Get a role', params: NameParams, response: { 200: RoleSchema, ...problems(401, 403, 404) } } },
    async (req, reply) => {
      const role = await roles.get({ name: req.params.name });
      return sendWithEtag(reply, role.version, roleView(role));
    },
  );
  r.patch(
    '/roles/:name',
    {
      config: { access: 'write', notFound },
      schema: {
        tags,
        summary: 'Rename a role or replace its scopes',
        params: NameParams,
        body: z.strictObject({ name: z.string().optional(), scopes: z.array(z.string()).optional() }),
        response: { 200: RoleSchema, ...problems(400, 401, 403, 404, 409, 412, 415) },
      },
    },
    async (req, reply) => {
      const role = await roles.update({ name: req.params.name }, req.body, { expectedVersion: ifMatchNumber(req) });
      audit(req, 'role.update', `role:${role.name}`);
      return sendWithEtag(reply, role.version, roleView(role));
    },
  );
  r.delete(
    '/roles/:name',
    { config: { access: 'write', notFound }, schema: { tags, summary: 'Delete a role (its holders lose it)', params: NameParams, response: { 204: z.null(), ...problems(401, 403, 404, 412) } } },
    async (req, reply) => {
      const role = await roles.delete({ name: req.params.name }, { expectedVersion: ifMatchNumber(req) });
      audit(req, 'role.delete', `role:${role.name}`);
      return reply.code(204).send(null);
    },
  );
}

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clientJson } from '../clients/client-json.js';
import { type ClientService, clientVersion } from '../clients/client-service.js';
import type { AdminContext } from './admin-api.js';
import { IdParams, ifMatch, nextLink, PageQuery, problems, sendWithEtag } from './http.js';
import { Problem } from './problem.js';

const AUTH = z.enum(['client_secret_basic', 'private_key_jwt'], { error: () => 'is not an authentication method Sigil registers (client_secret_basic, private_key_jwt)' });
const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).describe('RFC 7517 JWK Set: public keys only');
const ClientSchema = z.object({
  client_id: z.string(),
  name: z.string(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']),
  jwks: JwksSchema.optional(),
  jwks_uri: z.string().optional(),
  grant_types: z.array(z.string()),
  scopes: z.array(z.string()),
  audience: z.string().nullable(),
  audiences: z.array(z.string()),
  access_token_ttl: z.number().nullable(),
  introspect: z.boolean(),
  require_dpop: z.boolean(),
  disabled: z.boolean(),
  previous_secret_expires_at: z.string().nullable(),
  created_at: z.string().nullable(),
  updated_at: z.string().nullable(),
});
const WithSecret = ClientSchema.extend({ client_secret: z.string().describe('shown once; only its hash is kept') });
const Created = ClientSchema.extend({ client_secret: WithSecret.shape.client_secret.optional().describe('shown once, for a client_secret_basic client; a private_key_jwt client has none') });
const GRANTS = z.array(z.enum(['client_credentials', 'password'], { error: () => 'is not a grant type Sigil offers (client_credentials, password)' }));
const Settings = {
  name: z.string(),
  grant_types: GRANTS,
  scopes: z.array(z.string()),
  audience: z.string().nullable(),
  audiences: z.array(z.string()),
  access_token_ttl: z.number().nullable(),
  introspect: z.boolean(),
};
const NewClient = z.object({
  client_id: z.string().optional(),
  name: Settings.name,
  grant_types: GRANTS,
  scopes: Settings.scopes.optional(),
  audience: z.string().optional(),
  audiences: Settings.audiences.optional(),
  access_token_ttl: z.number().optional(),
  introspect: z.boolean().optional(),
  require_dpop: z.boolean().optional(),
  token_endpoint_auth_method: AUTH.optional().describe('default client_secret_basic; private_key_jwt takes jwks or jwks_uri (RFC 7523 section 2.2)'),
  jwks: z.unknown().optional().describe('private_key_jwt: the public keys inline (a JWK Set)'),
  jwks_uri: z.string().optional().describe('private_key_jwt: where Sigil fetches them (https)'),
});
const ClientPatch = z.strictObject({
  name: Settings.name.optional(),
  grant_types: GRANTS.optional(),
  scopes: Settings.scopes.optional(),
  audience: Settings.audience.optional(),
  audiences: Settings.audiences.optional(),
  access_token_ttl: Settings.access_token_ttl.optional(),
  introspect: Settings.introspect.optional(),
  disabled: z.boolean().optional(),
  jwks: z.unknown().optional().describe('private_key_jwt clients: new public keys (list old and new while rolling over)'),
  jwks_uri: z.string().optional().describe('private_key_jwt clients: a new URL for them'),
});
const notFound = 'no client with this client_id';

// The service's field names, for errors that name the field as the API spells it.
const API_FIELD: Record<string, string> = {
  grantTypes: 'grant_types',
  accessTokenTtlSeconds: 'access_token_ttl',
  mayIntrospect: 'introspect',
  clientId: 'client_id',
  requireDpop: 'require_dpop',
  jwksUri: 'jwks_uri',
};
const apiField = <T>(p: Promise<T>) =>
  p.catch((err: { field?: string }) => {
    if (err && typeof err.field === 'string' && API_FIELD[err.field]) Object.assign(err, { field: API_FIELD[err.field] });
    throw err;
  });

export function clientsRoutes(app: FastifyInstance, { clients, audit, graceHours }: AdminContext & { clients: ClientService; graceHours: number }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: clients'];

  r.post(
    '/clients',
    {
      config: { access: 'write' },
      schema: { tags, summary: 'Register a client: with a secret (shown once) or with public keys (private_key_jwt, no secret)', body: NewClient, response: { 201: Created, ...problems(400, 401, 403, 409, 415) } },
    },
    async (req, reply) => {
      const b = req.body;
      const settings = {
        clientId: b.client_id,
        name: b.name,
        grantTypes: b.grant_types,
        scopes: b.scopes ?? [],
        audience: b.audience,
        audiences: b.audiences ?? [],
        accessTokenTtlSeconds: b.access_token_ttl,
        mayIntrospect: b.introspect ?? false,
        requireDpop: b.require_dpop ?? false,
      };
      const keys = { ...(b.jwks !== undefined && { jwks: b.jwks }), ...(b.jwks_uri !== undefined && { jwksUri: b.jwks_uri }) };
      if (b.token_endpoint_auth_method === 'private_key_jwt') {
        const client = await apiField(clients.createWithKeys({ ...settings, ...keys }));
        audit(req, 'client.create', `client:${client.clientId}`);
        return sendWithEtag(reply, clientVersion(client), clientJson(client), 201);
      }
      if (Object.keys(keys).length > 0) {
        throw new Problem('invalid-input', 'jwks and jwks_uri need token_endpoint_auth_method private_key_jwt', { errors: [{ field: 'token_endpoint_auth_method', detail: 'must be private_key_jwt with jwks or jwks_uri' }] });
      }
      const { client, clientSecret } = await apiField(clients.create(settings));
      audit(req, 'client.create', `client:${client.clientId}`);
      return sendWithEtag(reply, clientVersion(client), { ...clientJson(client), client_secret: clientSecret }, 201);
    },
  );
  r.get(
    '/clients',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'List clients',
        querystring: z.object({ ...PageQuery, name_prefix: z.string().optional().describe('names starting with this (case-insensitive)') }),
        response: { 200: z.object({ items: z.array(ClientSchema), next: z.string().nullable() }), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const page = await clients.list({ limit: req.query.limit, after: req.query.after, namePrefix: req.query.name_prefix });
      return { items: page.items.map(clientJson), next: nextLink(req, page.next) };
    },
  );
  r.get(
    '/clients/:id',
    { config: { access: 'read', notFound }, schema: { tags, summary: 'Get a client', params: IdParams, response: { 200: ClientSchema, ...problems(401, 403, 404) } } },
    async (req, reply) => {
      const c = await clients.get(req.params.id);
      return sendWithEtag(reply, clientVersion(c), clientJson(c));
    },
  );
  r.patch(
    '/clients/:id',
    {
      config: { access: 'write', notFound },
      schema: { tags, summary: "Change a client's settings, or disable/enable it", params: IdParams, body: ClientPatch, response: { 200: ClientSchema, ...problems(400, 401, 403, 404, 409, 412, 415) } },
    },
    async (req, reply) => {
      const b = req.body;
      const c = await apiField(
        clients.update(
          req.params.id,
          {
            name: b.name,
            grantTypes: b.grant_types,
            scopes: b.scopes,
            audience: b.audience,
            audiences: b.audiences,
            accessTokenTtlSeconds: b.access_token_ttl,
            mayIntrospect: b.introspect,
            disabled: b.disabled,
            ...(b.jwks !== undefined && { jwks: b.jwks }),
            ...(b.jwks_uri !== undefined && { jwksUri: b.jwks_uri }),
          },
          { expectedVersion: ifMatch(req) },
        ),
      );
      audit(req, 'client.update', `client:${c.clientId}`);
      return sendWithEtag(reply, clientVersion(c), clientJson(c));
    },
  );
  r.post(
    '/clients/:id/rotate-secret',
    {
      config: { access: 'write', notFound },
      schema: {
        tags,
        summary: 'Issue a new secret; the old one works for the grace period (409 for a private_key_jwt client, which has none)',
        params: IdParams,
        response: { 200: WithSecret, ...problems(401, 403, 404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { client, clientSecret } = await clients.rotateSecret(req.params.id, graceHours, undefined, { expectedVersion: ifMatch(req) });
      audit(req, 'client.rotate_secret', `client:${client.clientId}`);
      return sendWithEtag(reply, clientVersion(client), { ...clientJson(client), client_secret: clientSecret });
    },
  );
  r.delete(
    '/clients/:id',
    { config: { access: 'write', notFound }, schema: { tags, summary: 'Delete a client', params: IdParams, response: { 204: z.null(), ...problems(401, 403, 404, 412) } } },
    async (req, reply) => {
      const c = await clients.delete(req.params.id, { expectedVersion: ifMatch(req) });
      audit(req, 'client.delete', `client:${c.clientId}`);
      return reply.code(204).send(null);
    },
  );
}

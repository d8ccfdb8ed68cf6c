import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

/** An OpenAPI 3 document generated from the route schemas, at GET /openapi.json. */
export async function openApi(app: FastifyInstance, o: { issuer: string; version: string }) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Sigil', description: 'OAuth 2.0 authorization server', version: o.version },
      servers: [{ url: o.issuer }],
      components: { securitySchemes: { clientSecretBasic: { type: 'http', scheme: 'basic' } } },
    },
    transform: jsonSchemaTransform,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

import t from 'tap';
import { buildTestApp } from '../helpers/app.js';

// Routes that take no body on purpose: an action on the resource named by the path.
const BODYLESS = new Set(['POST /admin/v1/clients/{id}/rotate-secret', 'POST /admin/v1/keys/rotate', 'POST /admin/v1/keys/rotate-now', 'POST /admin/v1/keys/{kid}/revoke']);
// Lists that are one page by nature: the key set is a handful of keys.
const UNPAGED = new Set(['GET /admin/v1/keys']);

/**
 * Every route Fastify serves under a prefix, from printRoutes' tree (commonPrefix: false prints
 * each node's own segment, indented four columns per level), as "METHOD /path/{param}".
 */
function servedRoutes(tree: string, prefix: string): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([\s│├└─]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m?.[2]) continue;
    const depth = Math.floor((m[1] ?? '').length / 4);
    stack.length = depth;
    stack[depth] = m[2];
    const path = stack.join('').replace(/:(\w+)/g, '{$1}');
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) {
      if (method !== 'HEAD' && (path === prefix || path.startsWith(`${prefix}/`))) out.push(`${method} ${path}`);
    }
  }
  return out.sort();
}

interface Operation {
  parameters?: Array<{ in: string; name: string; schema?: unknown }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  summary?: string;
}

t.test('/openapi.json documents every admin route with its request and response schemas', async (t) => {
  const h = await buildTestApp(t);
  await h.app.ready();
  const routes = servedRoutes(h.app.printRoutes({ commonPrefix: false }), '/admin/v1');
  // The walk itself must see the routes, or the checks below would pass on nothing.
  for (const known of ['POST /admin/v1/users', 'GET /admin/v1/keys', 'POST /admin/v1/keys/{kid}/revoke', 'DELETE /admin/v1/users/{id}/sessions/{family}', 'POST /admin/v1/clients/{id}/rotate-secret']) {
    t.ok(routes.includes(known), `the route walk finds ${known}`);
  }
  t.ok(routes.length >= 25, `${routes.length} admin routes`);

  const doc = (await h.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
  for (const route of routes) {
    const [method = '', path = ''] = route.split(' ');
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (!op) {
      t.fail(`${route} is not in /openapi.json`);
      continue;
    }
    t.ok(op.summary, `${route}: a summary`);
    for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((x) => x[1])) {
      t.ok(op.parameters?.some((p) => p.in === 'path' && p.name === name && p.schema), `${route}: path parameter ${name} with a schema`);
    }
    if (['POST', 'PUT', 'PATCH'].includes(method) && !BODYLESS.has(route)) {
      t.ok(op.requestBody?.content?.['application/json']?.schema, `${route}: a request body schema`);
    }
    if (method === 'GET' && !path.endsWith('}') && !UNPAGED.has(route)) {
      for (const q of ['limit', 'after']) t.ok(op.parameters?.some((p) => p.in === 'query' && p.name === q && p.schema), `${route}: query ${q}`);
    }
    const statuses = Object.keys(op.responses ?? {});
    const success = statuses.find((s) => /^2/.test(s));
    t.ok(success, `${route}: a success response`);
    if (success && success !== '204') t.ok(op.responses?.[success]?.content?.['application/json']?.schema, `${route}: a ${success} schema`);
    for (const s of ['401', '403']) t.ok(op.responses?.[s]?.content?.['application/json']?.schema, `${route}: its ${s} problem schema`);
  }
});

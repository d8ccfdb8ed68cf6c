import fc from 'fast-check';
import t from 'tap';
import { isProblem, setup } from './helpers.js';

// Random requests at every admin route that /openapi.json documents: random path parameters,
// queries, bodies, content types, If-Match values and credentials. Never a 5xx; every refusal is
// problem+json whose detail echoes nothing that was sent; and what the requests could not name (a
// role, a user holding it and a client, made first) is exactly as it was afterwards. Then every
// record the run created reads back whole, by list and by id.

const SAFE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const PROBLEM = 'application/problem+json';

interface Operation {
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
  parameters?: Array<{ in: string; name: string }>;
}

t.test('no input makes the admin API fail, echo what it was sent, or touch what it did not name', async (t) => {
  // Off, so that many runs (FUZZ_RUNS) are not refused with 429 before they reach the routes.
  const h = await setup(t, { env: { SIGIL_ADMIN_RATE_LIMIT_PER_MINUTE: '0' } });
  const reader = await h.tokenFor('sigil:admin:read');
  const tag = Math.random().toString(36).slice(2, 10);

  // What the fuzz cannot name: random names and ids it never sees.
  const role = await h.call('POST', '/roles', { body: { name: `canary-${tag}`, scopes: ['photos:read'] } });
  t.equal(role.statusCode, 201, role.body);
  const user = await h.call('POST', '/users', { body: { username: `canary-${tag}`, password: `pw-${tag}`, roles: [`canary-${tag}`] } });
  t.equal(user.statusCode, 201, user.body);
  const client = await h.call('POST', '/clients', { body: { name: `canary-${tag}`, grant_types: ['client_credentials'], scopes: ['photos:read'] } });
  t.equal(client.statusCode, 201, client.body);
  const canaries = [`/roles/canary-${tag}`, `/users/${user.json().id}`, `/clients/${client.json().client_id}`];
  const before = await Promise.all(canaries.map(async (url) => (await h.call('GET', url)).json()));

  const doc = (await h.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
  const operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/admin/v1/'))
    .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path: path.slice('/admin/v1'.length), op })));
  t.ok(operations.length >= 25, `${operations.length} operations to fuzz`);

  const nasty = fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      "' or 1=1 --",
      '"; drop table users; --',
      '\u0000',
      'a\u0000b',
      '\ud800',
      '%',
      '%00',
      '../../etc/passwd',
      '-1',
      '0',
      '1e400',
      'true',
      'null',
      '00000000-0000-0000-0000-000000000000',
      'photos:read',
      'x'.repeat(5000),
    ),
  );
  const jsonish = fc.oneof(nasty, fc.jsonValue({ maxDepth: 3 }), fc.array(nasty, { maxLength: 3 }), fc.integer(), fc.boolean());

  const request = fc.constantFrom(...operations).chain(({ method, path, op }) => {
    const fields = Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {});
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const queryNames = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    return fc.record({
      method: fc.constant(method),
      path: fc.constant(path),
      // Path parameters as a client can send them: UTF-8 percent-encoded, or malformed on purpose.
      params: fc.tuple(...params.map(() => fc.oneof(nasty.map(percentEncoded), fc.constantFrom('%FF', '%', '%zz', '%C0%AF', '..', '%00')))),
      query: fc.dictionary(fc.constantFrom(...queryNames, 'x'), nasty, { maxKeys: 3 }),
      body: fc.oneof(
        fc.constant(undefined),
        nasty,
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc.dictionary(fc.constantFrom(...fields, 'extra', '__proto__'), jsonish, { maxKeys: 5 }).map((v) => JSON.stringify(v)),
      ),
      contentType: fc.constantFrom('application/json', 'application/json', 'application/merge-patch+json', 'text/plain', 'application/x-www-form-urlencoded', undefined),
      ifMatch: fc.option(fc.oneof(nasty, fc.constantFrom('"1"', 'W/"1"', '*', '"99999999999999999999"')), { nil: undefined }),
      auth: fc.constantFrom('admin', 'admin', 'admin', 'reader', 'none', 'garbage'),
    });
  });

  const echoes = (text: string, sent: string[]) => sent.find((s) => s.length >= 12 && text.includes(s));

  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      let i = 0;
      const url = r.path.replace(/\{\w+\}/g, () => r.params[i++] as string);
      const qs = new URLSearchParams(r.query).toString();
      const headers: Record<string, string> = {};
      if (r.contentType && r.body !== undefined) headers['content-type'] = r.contentType;
      if (r.ifMatch !== undefined) headers['if-match'] = r.ifMatch.replace(/[^\x20-\x7e]/g, '');
      const token = { admin: h.admin.token, reader: reader.token, garbage: 'not-a-token', none: undefined }[r.auth];
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const res = await h.app.inject({
        method: r.method as 'GET',
        url: `/admin/v1${url}${qs ? `?${qs}` : ''}`,
        headers,
        ...(r.body !== undefined && { payload: r.body }),
      });
      const where = `${r.method} ${r.path} → ${res.statusCode}`;
      if (res.statusCode >= 500) throw new Error(`${where}: ${res.body.slice(0, 300)}`);
      if (res.statusCode >= 400) {
        if (!String(res.headers['content-type']).startsWith(PROBLEM)) throw new Error(`${where}: not problem+json`);
        const b = res.json() as { status: number; type: string; title: string; detail: string };
        if (b.status !== res.statusCode || !/^urn:sigil:problem:[a-z-]+$/.test(b.type) || typeof b.title !== 'string') {
          throw new Error(`${where}: not a problem body: ${res.body.slice(0, 300)}`);
        }
        if (!SAFE.test(b.detail)) throw new Error(`${where}: detail outside the safe charset: ${JSON.stringify(b.detail)}`);
        const sent = [...r.params.map(decoded), ...Object.values(r.query), ...(r.body !== undefined ? [r.body] : [])];
        for (const v of r.body !== undefined ? Object.values(safeParse(r.body)) : []) if (typeof v === 'string') sent.push(v);
        const echoed = echoes(b.detail, sent);
        if (echoed !== undefined) throw new Error(`${where}: the detail echoes input: ${JSON.stringify(b.detail)}`);
      } else if (res.statusCode !== 204 && res.body !== '') {
        res.json(); // every success is JSON
      }
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 400) },
  );

  const after = await Promise.all(canaries.map(async (url) => (await h.call('GET', url)).json()));
  t.same(after, before, 'the role, user and client nobody named are as they were');

  // Whatever the run created reads back whole: every listed record by its id, with the same body.
  for (const [list, id] of [['/users', 'id'], ['/clients', 'client_id'], ['/roles', 'name']] as const) {
    let next: string | null = `/admin/v1${list}?limit=100`;
    let count = 0;
    while (next) {
      const page = await h.app.inject({ url: next, headers: { authorization: `Bearer ${h.admin.token}` } });
      t.equal(page.statusCode, 200, `${list} lists`);
      const { items, next: more } = page.json() as { items: Array<Record<string, string>>; next: string | null };
      for (const item of items) {
        const one = await h.call('GET', `${list}/${encodeURIComponent(item[id] as string)}`);
        if (one.statusCode !== 200 || JSON.stringify(one.json()) !== JSON.stringify(item)) {
          t.fail(`${list}/${item[id]} does not read back as listed: ${one.statusCode}`);
        }
        count++;
      }
      next = more;
    }
    t.ok(count >= 1, `${count} ${list.slice(1)} read back whole`);
  }
});

// What the fuzz found, fixed, as plain cases: a URL the router cannot decode and a path parameter
// over its length were answered by Fastify itself, quoting the URL, in neither surface's format;
// U+0000 in a name reached PostgreSQL, which cannot store it, and gave a 500.
t.test('malformed URLs and U+0000 get each surface\'s own 4xx, quoting nothing', async (t) => {
  const h = await setup(t);
  const long = 'x'.repeat(300);
  for (const [url, status, type] of [
    ['/admin/v1/users/%FF', 400, 'invalid-input'],
    ['/admin/v1/roles/%', 400, 'invalid-input'],
    [`/admin/v1/clients/${long}`, 414, 'uri-too-long'],
    ['/admin/v1/roles/%00', 400, 'invalid-input'],
    ['/admin/v1/users?username_prefix=%00', 400, 'invalid-input'],
  ] as const) {
    const res = await h.call('GET', url.slice('/admin/v1'.length));
    const b = isProblem(t, res, status, type);
    t.notOk(b.detail.includes(long) || b.detail.includes('%'), `${url.slice(0, 30)}: nothing quoted`);
    t.equal(res.headers['x-content-type-options'], 'nosniff', 'with the API headers');
  }
  for (const [url, status] of [['/token%FF', 400], [`/x/${long}`, 404]] as const) {
    const res = await h.app.inject({ method: 'POST', url });
    t.equal(res.statusCode, status, url.slice(0, 20));
    t.equal(res.json().error, 'invalid_request');
    t.notOk(res.body.includes('%FF') || res.body.includes(long), 'nothing quoted');
  }
});

function safeParse(body: string): Record<string, unknown> {
  try {
    const v = JSON.parse(body);
    return typeof v === 'object' && v !== null ? v : {};
  } catch {
    return {};
  }
}

const percentEncoded = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

import { Writable } from 'node:stream';
import t from 'tap';
import Fastify from 'fastify';
import { lazyChildLogger, loggerOptions } from '../../src/logger.js';
import { basicAuth, buildTestApp, FORM, form } from '../helpers/app.js';

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: { ...(loggerOptions('info') as object), stream } };
}

t.test('metrics: requests by route and status, tokens by grant, logins, pool, key age, event loop', async (t) => {
  const { app, seed, token } = await buildTestApp(t);
  const c = await seed.client({ grantTypes: ['client_credentials', 'password'] });
  await seed.user('mia', 'mia-password');
  const auth = { client_id: c.clientId, client_secret: c.secret };
  await token({ ...auth, grant_type: 'client_credentials' });
  await token({ ...auth, grant_type: 'password', username: 'mia', password: 'mia-password' });
  await token({ ...auth, grant_type: 'password', username: 'mia', password: 'wrong' });
  await app.inject({ url: '/.well-known/jwks.json' });
  await app.inject({ url: '/nowhere/at/all' });
  await app.inject({ method: 'DELETE', url: '/token' });
  const res = await app.inject({ url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain/);
  const m = res.body;
  t.match(m, /sigil_http_request_duration_seconds_count\{route="\/token",method="POST",status="200"\} 2/);
  t.match(m, /sigil_http_request_duration_seconds_count\{route="\/token",method="POST",status="400"\} 1/);
  t.match(m, /sigil_http_request_duration_seconds_count\{route="\/.well-known\/jwks.json",method="GET",status="200"\} 1/);
  t.match(m, /sigil_http_request_duration_seconds_count\{route="\/token",method="DELETE",status="405"\} 1/);
  t.match(m, /sigil_http_request_duration_seconds_count\{route="unknown",method="GET",status="404"\} 1/, 'unmatched paths under one label');
  t.notMatch(m, /nowhere/, 'never the raw path');
  t.match(m, /sigil_tokens_issued_total\{grant="client_credentials"\} 1/);
  t.match(m, /sigil_tokens_issued_total\{grant="password"\} 1/);
  t.match(m, /sigil_login_failures_total 1/);
  t.match(m, /sigil_logins_throttled_total 0/);
  t.match(m, /sigil_refresh_token_reuse_total 0/);
  t.match(m, /sigil_signing_key_age_seconds \d/);
  t.match(m, /sigil_nodejs_eventloop_lag_seconds/);
});

t.test('metrics can require a bearer token', async (t) => {
  const { app } = await buildTestApp(t, { env: { SIGIL_METRICS_TOKEN: 'a-long-metrics-token-1234' } });
  const none = await app.inject({ url: '/metrics' });
  t.equal(none.statusCode, 401);
  t.equal(none.headers['www-authenticate'], 'Bearer realm="sigil-metrics"');
  const ok = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer a-long-metrics-token-1234' } });
  t.equal(ok.statusCode, 200);
});

t.test('one log line per request, with request id, client and grant; audit events at info', async (t) => {
  const { lines, logger } = captureLogs();
  const { seed, token } = await buildTestApp(t, { logger });
  const c = await seed.client({ grantTypes: ['client_credentials', 'password'] });
  const noah = await seed.user('noah', 'noah-password');
  const res = await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, c.secret), 'x-request-id': 'req-42' });
  t.equal(res.headers['x-request-id'], 'req-42', 'an incoming X-Request-Id is kept and echoed');
  const forged = await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, c.secret), 'x-request-id': 'bad id\twith junk' });
  const fresh = /^([\w-]{12})-([0-9a-z]+)$/;
  t.match(forged.headers['x-request-id'], fresh, 'an unsafe one is replaced');
  const next = await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, c.secret) });
  const [, prefix, n] = fresh.exec(String(forged.headers['x-request-id'])) ?? [];
  t.not(next.headers['x-request-id'], forged.headers['x-request-id'], 'each request gets an id of its own');
  t.ok(String(next.headers['x-request-id']).startsWith(`${prefix}-`), 'the same app prefix, a higher count');
  t.ok(parseInt(String(next.headers['x-request-id']).slice(13), 36) > parseInt(n ?? '', 36));
  const other = await buildTestApp(t);
  const [, otherPrefix] = fresh.exec(String((await other.app.inject({ url: '/healthz' })).headers['x-request-id'])) ?? [];
  t.ok(otherPrefix && otherPrefix !== prefix, 'another instance has another prefix');
  await token({ grant_type: 'password', username: 'NOAH', password: 'nope', client_id: c.clientId, client_secret: c.secret });
  await token({ grant_type: 'password', username: 'a-password-in-the-wrong-field', password: 'nope', client_id: c.clientId, client_secret: c.secret });

  const requests = lines.filter((l) => l.msg === 'request');
  t.equal(requests.length, 5, 'exactly one line per request');
  t.match(requests[0], { req_id: 'req-42', method: 'POST', path: '/token', status: 200, client_id: c.clientId, grant: 'client_credentials' });
  t.type(requests[0]?.ms, 'number');
  const [failed, unknown] = lines.filter((l) => l.msg === 'login_failed');
  t.match(failed, { level: 30, audit: { event: 'login_failed', user_id: noah.id, username: 'noah', client_id: c.clientId } }, 'her stored name');
  t.match(unknown, { audit: { event: 'login_failed', user_id: null, username: null } }, 'a name that is no user is not logged');
  t.notOk(JSON.stringify(lines).includes('wrong-field'), 'not anywhere');
  t.notOk(JSON.stringify(lines).includes('nope'), 'the password is not in the logs');
});

t.test('request loggers: lazy, yet each line carries its request id, redacted; nothing per request below info', async (t) => {
  const captured = captureLogs();
  const app = Fastify({ logger: { ...(captured.logger as object), level: 'warn' }, genReqId: () => 'req-7' });
  app.setChildLoggerFactory(lazyChildLogger);
  app.get('/warns', (req) => {
    t.equal(req.log.level, 'warn');
    req.log.info('dropped below the level');
    req.log.warn({ password: 'hunter2' }, 'careful');
    req.log.child({ step: 'inner' }).error('inner');
    return {};
  });
  t.teardown(() => app.close());
  t.equal((await app.inject({ url: '/warns' })).statusCode, 200);
  t.match(captured.lines, [
    { level: 40, reqId: 'req-7', password: '[redacted]', msg: 'careful' },
    { level: 50, reqId: 'req-7', step: 'inner', msg: 'inner' },
  ]);
  t.equal(captured.lines.length, 2, 'no request line at warn, and nothing below the level');

  const quiet = captureLogs();
  const { token } = await buildTestApp(t, { logger: { ...(quiet.logger as object), level: 'warn' } });
  await token({ grant_type: 'client_credentials' });
  t.same(quiet.lines, [], 'a Sigil app at warn writes no line for an ordinary request');
});

t.test('rate limit per client address on the OAuth endpoints, 429 with Retry-After', async (t) => {
  const { app, token } = await buildTestApp(t, { env: { SIGIL_RATE_LIMIT_PER_MINUTE: '3' } });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await token({ grant_type: 'client_credentials' }, {}, '192.0.2.1')).statusCode);
  t.same(statuses, [401, 401, 401, 429]);
  const limited = await token({ grant_type: 'client_credentials' }, {}, '192.0.2.1');
  t.equal(limited.json().error, 'invalid_request');
  t.match(limited.json().error_description, /too many requests/);
  t.ok(Number(limited.headers['retry-after']) > 0);
  t.equal(limited.headers['cache-control'], 'no-store');
  t.equal((await token({ grant_type: 'client_credentials' }, {}, '192.0.2.2')).statusCode, 401, 'other addresses are not affected');
  const spoofed = await token({ grant_type: 'client_credentials' }, { 'x-forwarded-for': '198.51.100.1' }, '192.0.2.1');
  t.equal(spoofed.statusCode, 429, 'X-Forwarded-For is ignored unless the proxy is trusted');
  t.equal((await app.inject({ url: '/.well-known/jwks.json', remoteAddress: '192.0.2.1' })).statusCode, 200, 'the JWKS is not limited');
});

t.test('behind a trusted proxy, X-Forwarded-For names the client', async (t) => {
  const { token } = await buildTestApp(t, { env: { SIGIL_RATE_LIMIT_PER_MINUTE: '1', SIGIL_TRUST_PROXY: '10.0.0.1' } });
  const first = await token({ grant_type: 'client_credentials' }, { 'x-forwarded-for': '198.51.100.1' }, '10.0.0.1');
  t.equal(first.statusCode, 401);
  const other = await token({ grant_type: 'client_credentials' }, { 'x-forwarded-for': '198.51.100.2' }, '10.0.0.1');
  t.equal(other.statusCode, 401, 'another client behind the same proxy has its own budget');
  const again = await token({ grant_type: 'client_credentials' }, { 'x-forwarded-for': '198.51.100.1' }, '10.0.0.1');
  t.equal(again.statusCode, 429);
});

t.test('security headers on API answers, nosniff alone on the public documents, and CORS only where configured', async (t) => {
  const { app, seed, token } = await buildTestApp(t);
  const c = await seed.client({ grantTypes: ['client_credentials'] });
  const res = await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, c.secret) });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['x-content-type-options'], 'nosniff');
  t.match(res.headers['content-security-policy'], /default-src 'none'/);
  t.equal(res.headers['x-frame-options'], 'DENY');
  t.equal(res.headers['referrer-policy'], 'no-referrer');
  t.equal(res.headers['cross-origin-resource-policy'], 'cross-origin');
  t.match(res.headers['strict-transport-security'], /^max-age=\d+/);
  t.match(res.headers['x-request-id'], /^[\w-]{12}-[0-9a-z]+$/);
  t.notOk(res.headers['x-xss-protection'], 'no headers for rendered documents');
  const error = await app.inject({ method: 'POST', url: '/token', payload: 'grant_type=client_credentials', headers: { 'content-type': FORM } });
  t.equal(error.statusCode, 401);
  t.equal(error.headers['x-content-type-options'], 'nosniff', 'errors carry the headers too');
  t.equal(error.headers['cache-control'], 'no-store');
  const missing = await app.inject({ url: '/nowhere' });
  t.equal(missing.headers['content-security-policy'], res.headers['content-security-policy'], 'and so do 404s');
  for (const url of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server']) {
    const doc = await app.inject({ url, headers: { origin: 'https://app.example.com' } });
    t.equal(doc.statusCode, 200);
    t.equal(doc.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`);
    t.match(doc.headers['cache-control'], /^public, max-age=\d+$/, `${url}: cacheable`);
    for (const name of ['content-security-policy', 'x-frame-options', 'strict-transport-security', 'x-request-id']) {
      t.notOk(doc.headers[name], `${url}: no ${name} on a public document`);
    }
    t.notOk(doc.headers['access-control-allow-origin'], `${url}: CORS is off by default`);
  }
  const query = await app.inject({ url: '/.well-known/jwks.json?x=1' });
  t.equal(query.headers['x-frame-options'], 'DENY', 'any other URL gets the full set');

  const withCors = await buildTestApp(t, { env: { SIGIL_CORS_ORIGINS: 'https://app.example.com' } });
  const allowed = await withCors.app.inject({ url: '/.well-known/jwks.json', headers: { origin: 'https://app.example.com' } });
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
  const preflight = await withCors.app.inject({
    method: 'OPTIONS',
    url: '/token',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
  });
  t.equal(preflight.statusCode, 204);
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
  const otherOrigin = await withCors.app.inject({ url: '/.well-known/jwks.json', headers: { origin: 'https://evil.example' } });
  t.notOk(otherOrigin.headers['access-control-allow-origin']);
  const introspect = await withCors.app.inject({
    method: 'POST',
    url: '/introspect',
    headers: { origin: 'https://app.example.com', 'content-type': FORM },
    payload: form({ token: 'x' }),
  });
  t.notOk(introspect.headers['access-control-allow-origin'], 'not on introspection');
});

/** Blocks the event loop on purpose, then lets the overdue sampling timer see the stall. */
async function stallEventLoop(ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy on purpose
  }
  await new Promise((r) => setTimeout(r, 20));
}

t.test('an event loop stalled past the limit sheds load with 503', async (t) => {
  const { app } = await buildTestApp(t, { env: { SIGIL_MAX_EVENT_LOOP_DELAY_MS: '50' } });
  await app.ready();
  await stallEventLoop(1500);
  const res = await app.inject({ url: '/.well-known/oauth-authorization-server' });
  t.equal(res.statusCode, 503);
  t.equal(res.json().error, 'temporarily_unavailable');
  t.equal(res.headers['retry-after'], '1');
  const token = await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': FORM }, payload: form({ grant_type: 'client_credentials' }) });
  t.equal(token.statusCode, 503, 'every route is shed, the OAuth endpoints included');
  t.equal(token.headers['cache-control'], 'no-store', 'with the API headers of a normal answer');

  // The next sample sees an idle loop, and requests are served again.
  const recovered = Date.now() + 5000;
  let after = await app.inject({ url: '/.well-known/oauth-authorization-server' });
  while (after.statusCode === 503 && Date.now() < recovered) {
    await new Promise((r) => setTimeout(r, 100));
    after = await app.inject({ url: '/.well-known/oauth-authorization-server' });
  }
  t.equal(after.statusCode, 200, 'served again once the loop keeps up');
});

t.test('load shedding off (0) never sheds', async (t) => {
  const { app } = await buildTestApp(t, { env: { SIGIL_MAX_EVENT_LOOP_DELAY_MS: '0' } });
  await app.ready();
  await stallEventLoop(1500);
  t.equal((await app.inject({ url: '/.well-known/oauth-authorization-server' })).statusCode, 200);
});

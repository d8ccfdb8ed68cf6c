import fc from 'fast-check';
import t from 'tap';
import { basicAuth, buildTestApp } from '../helpers/app.js';
import { authorizationHeader } from '../helpers/fuzz.js';
import { captureLog, leakedSecret } from '../helpers/log-capture.js';

// Random forms, headers and content types at /token: never a 5xx, always a JSON OAuth error body
// (or a token, for the rare well-formed request), and never the client's secret in a log line.
t.test('no input makes /token, /introspect or /revoke fail', async (t) => {
  const log = captureLog();
  const { app, seed } = await buildTestApp(t, { logger: log.logger });
  const client = await seed.client({ grantTypes: ['client_credentials', 'password'], scopes: ['read'] });
  const secrets = [client.secret, basicAuth(client.clientId, client.secret).slice('Basic '.length)];

  const nasty = fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }),
    fc.constantFrom(
      "' or 1=1 --",
      '"; drop table clients; --',
      '{"$ne": null}',
      '%00',
      '\u0000',
      '%',
      '%zz',
      '%C0%AF',
      '+',
      '&&&',
      '==',
      'client_credentials',
      'password',
      'refresh_token',
      client.clientId,
      client.secret,
      'x'.repeat(5000),
    ),
  );
  const names = fc.constantFrom(
    'token',
    'token_type_hint',
    'grant_type',
    'client_id',
    'client_secret',
    'scope',
    'username',
    'password',
    'resource',
    'refresh_token',
    'x',
    '',
  );
  const rawForm = fc
    .array(fc.tuple(names, nasty), { maxLength: 8 })
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));
  const body = fc.oneof(rawForm, fc.string(), fc.string({ unit: 'binary' }));
  const contentType = fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'APPLICATION/X-WWW-FORM-URLENCODED',
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=x',
    '',
    'application/x-www-form-urlencoded; charset=latin1',
  );
  const authorization = authorizationHeader(nasty, client);

  const endpoint = fc.constantFrom('/token', '/introspect', '/revoke');
  await fc.assert(
    fc.asyncProperty(endpoint, body, contentType, authorization, async (url, payload, type, auth) => {
      const headers: Record<string, string> = {};
      if (type) headers['content-type'] = type;
      if (auth !== undefined) headers.authorization = auth.replace(/[\r\n]/g, '');
      let res: Awaited<ReturnType<typeof app.inject>>;
      try {
        res = await app.inject({ method: 'POST', url, headers, payload });
      } catch (err) {
        // inject refuses headers Node would never send (invalid characters): not a server failure
        if ((err as { code?: string }).code === 'ERR_INVALID_CHAR') return;
        throw err;
      }
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${JSON.stringify({ url, payload, type, auth })}: ${res.body}`);
      if (leakedSecret(log.fresh(), secrets)) throw new Error(`the secret reached the log: ${JSON.stringify({ url, payload, type, auth })}`);
      if (res.statusCode === 200 && url === '/revoke') {
        if (res.body !== '') throw new Error('revocation answered with a body');
        return;
      }
      const json = res.json();
      if (res.statusCode === 200) {
        if (url === '/token' && typeof json.access_token !== 'string') throw new Error('200 without a token');
        if (url === '/introspect' && typeof json.active !== 'boolean') throw new Error('introspection without active');
        return;
      }
      if (typeof json.error !== 'string' || typeof json.error_description !== 'string') {
        throw new Error(`not an OAuth error body: ${res.body}`);
      }
      if (res.headers['cache-control'] !== 'no-store') throw new Error('error without no-store');
    }),
    {
      numRuns: 400,
      // Found once by a random run: the secret sent as grant_type, with the client authenticated.
      examples: [
        ['/token', `grant_type=${client.secret}`, 'application/x-www-form-urlencoded', basicAuth(client.clientId, client.secret)],
        ['/token', `client_id=${client.clientId}&client_secret=${client.secret}&grant_type=${client.secret}`, 'application/x-www-form-urlencoded', undefined],
      ],
    },
  );
  t.pass('400 random requests, no 5xx, always an OAuth error body, no secret in the log');
});

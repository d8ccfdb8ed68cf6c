import fc from 'fast-check';
import t from 'tap';
import { authChallenge, ERROR_TEXT_MAX_LENGTH, isErrorText, toErrorText } from '../../src/http/error-text.js';
import { basicAuth, buildTestApp } from '../helpers/app.js';
import { authorizationHeader } from '../helpers/fuzz.js';
import { captureLog, leakedSecret } from '../helpers/log-capture.js';

// RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ).
const CHARSET = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

t.test('toErrorText keeps any text inside the §5.2 charset, bounded', async (t) => {
  t.equal(toErrorText('the scope parameter is missing'), 'the scope parameter is missing', 'plain text unchanged');
  t.equal(toErrorText('grant_type "x\\y" é\u0000\n'), 'grant_type ?x?y? ?', 'each run of other characters is one ?');
  t.equal(toErrorText('x'.repeat(500)).length, ERROR_TEXT_MAX_LENGTH);
  t.ok(isErrorText('a b!#[]~'));
  t.notOk(isErrorText('a"b'));
  t.notOk(isErrorText('a\\b'));
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const out = toErrorText(`x${s}`);
      return CHARSET.test(out) && out.length <= ERROR_TEXT_MAX_LENGTH;
    }),
  );
});

t.test('authChallenge quotes only safe values', async (t) => {
  t.equal(authChallenge('Bearer'), 'Bearer');
  t.equal(
    authChallenge('Bearer', { realm: 'sigil', error: 'invalid_token', error_description: 'the "token"\r\nSet-Cookie: x' }),
    'Bearer realm="sigil", error="invalid_token", error_description="the ?token?Set-Cookie: x"',
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const header = authChallenge('Bearer', { error_description: s });
      return /^Bearer error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*"$/.test(header);
    }),
  );
});

/** Every quoted value of a challenge (RFC 9110 auth-param), which must keep to the charset. */
function challengeValues(header: string): string[] {
  const values: string[] = [];
  const re = /[A-Za-z_]+="([^"]*)"/g;
  for (let m = re.exec(header); m; m = re.exec(header)) values.push(m[1] ?? '');
  return values;
}

// Words a description may use because Sigil chose them, not because the client sent them.
// (Lower case: the input is compared in lower case.)
const VOCABULARY = [
  ...['client_credentials', 'password', 'refresh_token', 'grant_type', 'client_id', 'client_secret', 'scope', 'username', 'resource', 'token'],
  // The fixed phrases that start like the fuzzed Authorization headers: `Basic c` or `Bearer `
  // is not reflected by "malformed Basic credentials: …" or "… needs its bearer token".
  'malformed basic credentials',
  'the metrics endpoint needs its bearer token',
];

/** Whether a description repeats a piece of input (one long enough not to be a coincidence). */
function reflects(description: string, inputs: string[]): string | undefined {
  const d = description.toLowerCase();
  return inputs.find((raw) => {
    const v = raw.trim().toLowerCase();
    if (v.length < 6 || /^(.)\1*$/s.test(v) || VOCABULARY.some((w) => w.includes(v))) return false;
    return d.includes(v) || d.includes(encodeURIComponent(v).toLowerCase());
  });
}

const ENDPOINTS = ['/token', '/introspect', '/revoke', '/metrics'];

t.test('no input at any endpoint yields a description or challenge outside the charset, or reflects input', async (t) => {
  const log = captureLog();
  const { app, seed } = await buildTestApp(t, { logger: log.logger, env: { SIGIL_METRICS_TOKEN: 'metrics-token-for-the-fuzz-test' } });
  const client = await seed.client({ grantTypes: ['client_credentials', 'password'], scopes: ['read'] });
  const secrets = [client.secret, basicAuth(client.clientId, client.secret).slice('Basic '.length)];

  const nasty = fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }),
    fc.constantFrom('"quoted"', 'back\\slash', 'é', '\u0000', '%zz', 'password', 'client_credentials', 'urn:x:"evil"', 'https://evil.example/"x'),
  );
  const names = fc.constantFrom('grant_type', 'client_id', 'client_secret', 'scope', 'username', 'password', 'resource', 'refresh_token', 'token', 'token_type_hint', 'x');
  const pairs = fc.array(fc.tuple(names, nasty), { maxLength: 6 });
  const authorization = authorizationHeader(nasty, client);
  const segment = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('"x"', 'a\\b', '..', '%22'));
  const url = fc.oneof(
    fc.constantFrom(...ENDPOINTS),
    fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.map(encodeURIComponent).join('/')}`),
  );
  const method = fc.constantFrom('POST', 'POST', 'GET', 'PUT', 'DELETE');

  let checked = 0;
  await fc.assert(
    fc.asyncProperty(method, url, pairs, authorization, async (verb, path, params, auth) => {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (auth !== undefined) headers.authorization = auth.replace(/[\r\n]/g, '');
      const payload = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
      let res: Awaited<ReturnType<typeof app.inject>>;
      try {
        res = await app.inject({ method: verb, url: path, headers, ...(verb !== 'GET' && { payload }) });
      } catch (err) {
        // inject refuses headers Node would never send (invalid characters): not a server failure
        if ((err as { code?: string }).code === 'ERR_INVALID_CHAR') return;
        throw err;
      }
      if (leakedSecret(log.fresh(), secrets)) throw new Error(`the secret reached the log: ${JSON.stringify({ verb, path, params, auth })}`);
      const inputs = [...params.map(([, v]) => v), ...(auth === undefined ? [] : [auth, auth.replace(/^\S+\s+/, '')])];
      // A known endpoint's path is Sigil's own word (`/token accepts only POST`); any other is input.
      if (!ENDPOINTS.includes(path)) for (const part of [path, ...path.split('/')]) inputs.push(decodeURIComponent(part));
      const challenge = res.headers['www-authenticate'];
      for (const value of typeof challenge === 'string' ? challengeValues(challenge) : []) {
        if (!CHARSET.test(value)) throw new Error(`challenge value outside the charset: ${JSON.stringify(challenge)}`);
        const echoed = reflects(value, inputs);
        if (echoed !== undefined) throw new Error(`challenge reflects ${JSON.stringify(echoed)}: ${challenge}`);
      }
      if (res.statusCode < 400) return;
      const { error_description: description } = res.json() as { error_description?: unknown };
      if (typeof description !== 'string') throw new Error(`no error_description: ${res.body}`);
      if (!CHARSET.test(description)) throw new Error(`description outside the charset: ${JSON.stringify(description)}`);
      const echoed = reflects(description, inputs);
      if (echoed !== undefined) throw new Error(`description reflects ${JSON.stringify(echoed)}: ${description}`);
      checked++;
    }),
    {
      numRuns: 500,
      // Found once by a random run: the secret sent as grant_type, with the client authenticated.
      examples: [
        ['POST', '/token', [['grant_type', client.secret]], basicAuth(client.clientId, client.secret)],
        // Once false alarms: the header read as reflected by Sigil's own words.
        ['POST', '/token', [], 'Basic c'],
        ['GET', '/metrics', [], 'Bearer '],
      ],
    },
  );
  t.ok(checked > 100, `${checked} error bodies checked`);
});

t.test('the descriptions that used to quote input now describe the problem', async (t) => {
  const { app, seed } = await buildTestApp(t);
  const client = await seed.client({ grantTypes: ['client_credentials'], scopes: ['read'] });
  const post = (payload: string) =>
    app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.clientId, client.secret) },
      payload,
    });
  const unknown = await post('grant_type=%22evil%5C');
  t.same(unknown.json(), { error: 'unsupported_grant_type', error_description: 'this grant_type is not supported' });
  const scope = await post('grant_type=client_credentials&scope=read%20secret-admin');
  t.same(scope.json(), { error: 'invalid_scope', error_description: 'scope not allowed for this client: secret-admin' });
  const notFound = await app.inject({ method: 'GET', url: '/%22quoted%22/path' });
  t.equal(notFound.statusCode, 404);
  t.same(notFound.json(), { error: 'invalid_request', error_description: 'there is no GET endpoint at this path' });
  const colon = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` },
    payload: 'grant_type=client_credentials',
  });
  t.equal(colon.statusCode, 401);
  t.match(colon.headers['www-authenticate'], /^Basic realm="sigil", charset="UTF-8"$/);
  t.same(colon.json(), { error: 'invalid_client', error_description: 'malformed Basic credentials: no colon between client_id and secret' });
});

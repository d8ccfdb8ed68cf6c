import t from 'tap';
import { basicAuth, buildTestApp, FORM } from '../helpers/app.js';

// Regression corpus: inputs that once broke something, or that must never.
t.test('nasty inputs get a 4xx OAuth error, never a 5xx', async (t) => {
  const { app, seed, token } = await buildTestApp(t);
  const c = await seed.client({ grantTypes: ['client_credentials', 'password'] });
  const raw = (s: string) => `Basic ${Buffer.from(s, 'utf8').toString('base64')}`;
  const cases: [string, string, Record<string, string>][] = [
    ['NUL in client_id (found by fast-check)', 'client_id=%00&client_secret=%20', { authorization: 'Bearer ' }],
    ['NUL in client_id, Basic', 'grant_type=client_credentials', { authorization: raw('a\u0000b:secret') }],
    ['NUL in username', `grant_type=password&username=a%00b&password=x&client_id=${c.clientId}&client_secret=${c.secret}`, {}],
    ['NUL in scope', 'grant_type=client_credentials&scope=%00', { authorization: basicAuth(c.clientId, c.secret) }],
    ['control chars in client_id', 'client_id=%01%02&client_secret=x&grant_type=client_credentials', {}],
    ['invalid UTF-8', 'grant_type=client_credentials&scope=%C0%AF%FF', { authorization: basicAuth(c.clientId, c.secret) }],
    ['JSON-looking', 'grant_type={"$ne":null}', { authorization: basicAuth(c.clientId, c.secret) }],
    ['SQL-looking grant', "grant_type=' or 1=1 --", { authorization: basicAuth(c.clientId, c.secret) }],
    ['only ampersands', '&&&&', { authorization: basicAuth(c.clientId, c.secret) }],
    ['bare percent', 'grant_type=%', { authorization: basicAuth(c.clientId, c.secret) }],
    ['many repeated parameters', Array(500).fill('scope=a').join('&'), { authorization: basicAuth(c.clientId, c.secret) }],
    ['very long Authorization', 'grant_type=client_credentials', { authorization: `Basic ${'QUFB'.repeat(3000)}` }],
  ];
  for (const [why, body, headers] of cases) {
    const res = await token(body, headers);
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${why}: ${res.statusCode} ${res.body}`);
    t.type(res.json().error, 'string', why);
    for (const url of ['/introspect', '/revoke']) {
      const other = await app.inject({ method: 'POST', url, headers: { 'content-type': FORM, ...headers }, payload: `token=x&${body}` });
      t.ok(other.statusCode < 500, `${url}, ${why}: ${other.statusCode} ${other.body}`);
    }
  }
  const unnamed = await token('=x&x=&grant_type=client_credentials&unknown=1', { authorization: basicAuth(c.clientId, c.secret) });
  t.equal(unnamed.statusCode, 200, 'unknown and nameless parameters are ignored (RFC 6749 §3.2)');
  // §3.1: unrecognized parameters MUST be ignored, however they are sent: repeated, or with a NUL.
  const strange = 'audience=a&audience=b&x-extra=%00';
  const ignored = await token(`grant_type=client_credentials&${strange}`, { authorization: basicAuth(c.clientId, c.secret) });
  t.equal(ignored.statusCode, 200, `unknown parameters repeated or with a NUL are ignored on /token: ${ignored.body}`);
  for (const url of ['/introspect', '/revoke']) {
    const res = await app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': FORM, authorization: basicAuth(c.clientId, c.secret) },
      payload: `token=x&resource=a&resource=b&${strange}`,
    });
    t.equal(res.statusCode, 200, `and on ${url}: ${res.body}`);
  }
  const twice = await token('grant_type=client_credentials&scope=a&scope=b', { authorization: basicAuth(c.clientId, c.secret) });
  t.match(twice.json(), { error: 'invalid_request', error_description: /scope parameter was sent more than once/ }, 'a known one twice is still refused');
});

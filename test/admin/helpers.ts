import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { basicAuth, buildTestApp, TEST_ISSUER } from '../helpers/app.js';

export const ADMIN_AUD = `${TEST_ISSUER}/admin`;
const PROBLEM = 'application/problem+json';
const SAFE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A test app with an admin token, and `call` for the admin API (its Bearer by default). */
export async function setup(
  t: Test,
  o: { now?: () => Date; env?: Record<string, string>; logs?: string[]; clientCacheClock?: () => number } = {},
) {
  const logger = o.logs
    ? {
        level: 'info',
        stream: new Writable({
          write(chunk, _e, cb) {
            o.logs?.push(chunk.toString());
            cb();
          },
        }),
      }
    : undefined;
  const h = await buildTestApp(t, { ...(o.now && { now: o.now }), ...(o.env && { env: o.env }), ...(logger && { logger }), ...(o.clientCacheClock && { clientCacheClock: o.clientCacheClock }) });
  const tokenFor = async (scope: string, audience = ADMIN_AUD) => {
    const c = await h.seed.client({ grantTypes: ['client_credentials'], scopes: scope.split(' '), audience });
    const res = await h.token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, c.secret) });
    t.equal(res.statusCode, 200, res.body);
    return { token: res.json().access_token as string, client: c };
  };
  const admin = await tokenFor('sigil:admin:read sigil:admin:write');
  const call = (method: string, url: string, o: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    h.app.inject({
      method: method as 'GET',
      url: `/admin/v1${url}`,
      headers: {
        ...(o.token !== '' && { authorization: `Bearer ${o.token ?? admin.token}` }),
        ...(o.body !== undefined && { 'content-type': 'application/json' }),
        ...o.headers,
      },
      ...(o.body !== undefined && { payload: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) }),
    });
  return { ...h, tokenFor, admin, call };
}

/** Checks a problem+json answer's status, type, and safe detail; returns the body. */
export const isProblem = (t: Test, res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, type: string) => {
  t.equal(res.statusCode, status);
  t.match(String(res.headers['content-type']), PROBLEM);
  // biome-ignore lint/suspicious/noExplicitAny: a problem body, checked field by field below
  const b = res.json() as any;
  t.equal(b.status, status);
  t.equal(b.type, `urn:sigil:problem:${type}`);
  t.type(b.title, 'string');
  t.match(b.detail, SAFE, 'detail in the safe charset');
  return b;
};

// Ceiling (d), the verify ceiling: the introspection request parsed as Sigil parses it and one JWT
// verified per request, against Sigil's own published keys (BENCH_JWKS) so that it checks exactly
// the tokens the bench sends to Sigil. No revocation lookup, no database. With jose, as issue 7
// defines it; with BENCH_CRYPTO=node, ceiling (d'): checked as Sigil checks it, by node:crypto on
// libuv's pool (src/keys/jws-verifier.ts), with only the checks no verifier can skip (key by kid,
// signature, issuer, typ, exp), shown for information.
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { announce, basicCredentials, ceilingServer, formParams, requiredEnv } from './http.js';

const jwksText = requiredEnv('BENCH_JWKS');
const issuer = requiredEnv('BENCH_ISSUER');

const jwks = createLocalJWKSet(JSON.parse(jwksText));
const verifyWithJose = async (token: string) =>
  (await jwtVerify(token, jwks, { issuer, typ: 'at+jwt', requiredClaims: ['exp', 'iat'] })).payload as Record<string, unknown>;

const keys = new Map<string, KeyObject>(
  (JSON.parse(jwksText) as { keys: (JsonWebKey & { kid: string })[] }).keys.map((k) => [k.kid, createPublicKey({ key: k, format: 'jwk' })]),
);
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
async function verifyWithNode(token: string): Promise<Record<string, unknown>> {
  const [h = '', p = '', s = ''] = token.split('.');
  const header = decode(h);
  const key = keys.get(String(header.kid));
  if (!key || header.alg !== 'ES256' || header.typ !== 'at+jwt') throw new Error('no key');
  const ok = await new Promise<boolean>((resolve) =>
    verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'), (err, valid) => resolve(!err && valid)),
  );
  const claims = ok ? decode(p) : undefined;
  if (!claims || claims.iss !== issuer || typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) throw new Error('invalid');
  return claims;
}
const verifyJwt = process.env.BENCH_CRYPTO === 'node' ? verifyWithNode : verifyWithJose;

const app = await ceilingServer();
app.post('/introspect', async (req, reply) => {
  const params = formParams(req);
  const client = basicCredentials(req.headers.authorization);
  if (!params?.token || !client) return reply.code(400).send({ error: 'invalid_request' });
  reply.header('cache-control', 'no-store');
  try {
    return { active: true, ...(await verifyJwt(params.token)), token_type: 'Bearer' };
  } catch {
    return { active: false };
  }
});
await announce(app);

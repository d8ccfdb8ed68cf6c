// Ceiling (d′), for information: ceiling (d) with the signature checked as Sigil checks it, by
// node:crypto on libuv's pool (src/keys/jws-verifier.ts) rather than by jose through WebCrypto,
// and only the checks no verifier can skip (key by kid, signature, issuer, typ, exp). Issue 7
// defines (d) with jose, and Sigil's target is judged against (d).
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { announce, basicCredentials, ceilingServer, formParams, requiredEnv } from './http.js';

const jwks = JSON.parse(requiredEnv('BENCH_JWKS')) as { keys: (JsonWebKey & { kid: string })[] };
const keys = new Map<string, KeyObject>(jwks.keys.map((k) => [k.kid, createPublicKey({ key: k, format: 'jwk' })]));
const issuer = requiredEnv('BENCH_ISSUER');
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

async function claimsOf(token: string): Promise<Record<string, unknown> | undefined> {
  const [h = '', p = '', s = ''] = token.split('.');
  const header = decode(h);
  const key = keys.get(String(header.kid));
  if (!key || header.alg !== 'ES256' || header.typ !== 'at+jwt') return undefined;
  const ok = await new Promise<boolean>((resolve) =>
    verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'), (err, valid) => resolve(!err && valid)),
  );
  if (!ok) return undefined;
  const claims = decode(p);
  return claims.iss === issuer && typeof claims.exp === 'number' && claims.exp > Date.now() / 1000 ? claims : undefined;
}

const app = await ceilingServer();
app.post('/introspect', async (req, reply) => {
  const params = formParams(req);
  const client = basicCredentials(req.headers.authorization);
  if (!params?.token || !client) return reply.code(400).send({ error: 'invalid_request' });
  reply.header('cache-control', 'no-store');
  const claims = await claimsOf(params.token).catch(() => undefined);
  return claims ? { active: true, ...claims, token_type: 'Bearer' } : { active: false };
});
await announce(app);

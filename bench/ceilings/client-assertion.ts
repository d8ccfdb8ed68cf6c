// Ceiling (f), the private_key_jwt token ceiling: ceiling (b') plus one RFC 7523 client assertion
// verified as Sigil verifies it (src/oauth/client-assertion.ts: header alg and kid, the client's
// key imported once, one ES256 signature check by node:crypto on libuv's pool, iss = sub =
// client_id, aud, exp, iat, jti). The jti is checked in memory (a Map until the assertion
// expires), not in a database: Sigil spends it with one insert, so that a replay is refused on any
// instance, and that insert is the part of Sigil's cost the ratio shows.
import { createPublicKey, type JsonWebKey, verify } from 'node:crypto';
import { announce, ceilingServer, formParams, requiredEnv } from './http.js';
import { createSigner, tokenResponse } from './token.js';

const ISSUER = requiredEnv('BENCH_ISSUER');
const CLIENT_ID = requiredEnv('BENCH_CLIENT_ID');
const clientJwk = JSON.parse(requiredEnv('BENCH_CLIENT_JWK')) as JsonWebKey & { kid: string };
const clientKey = createPublicKey({ key: clientJwk, format: 'jwk' });
const AUDIENCES = new Set([ISSUER, `${ISSUER}/token`]);
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_AGE_SECONDS = 300;
const signJwt = await createSigner();

const json = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

// Spent jtis until their assertion expires, as Sigil keeps them, filed by the second they expire
// in: each second's ids are forgotten together once it has passed, whatever order they came in,
// so a spend costs the same early and late in a run, and the set never holds an expired id for long.
const spent = new Set<string>();
const expiringIn = new Map<number, string[]>();
let forgottenUpTo = Math.floor(Date.now() / 1000);
function spend(jti: string, exp: number, now: number): boolean {
  for (; forgottenUpTo < now; forgottenUpTo++) {
    for (const id of expiringIn.get(forgottenUpTo) ?? []) spent.delete(id);
    expiringIn.delete(forgottenUpTo);
  }
  if (spent.has(jti)) return false;
  spent.add(jti);
  const second = expiringIn.get(exp);
  if (second) second.push(jti);
  else expiringIn.set(exp, [jti]);
  return true;
}

/** The client_id when the assertion holds, else undefined. */
async function checkAssertion(assertion: string | undefined): Promise<string | undefined> {
  const [h, p, s] = assertion?.split('.') ?? [];
  if (!h || !p || !s) return undefined;
  const header = json(h);
  if (header.alg !== 'ES256' || (header.kid !== undefined && header.kid !== clientJwk.kid)) return undefined;
  const claims = json(p);
  if (claims.iss !== CLIENT_ID || claims.sub !== CLIENT_ID) return undefined;
  const ok = await new Promise<boolean>((resolve) =>
    verify('sha256', Buffer.from(`${h}.${p}`), { key: clientKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'), (err, good) =>
      resolve(!err && good),
    ),
  );
  if (!ok) return undefined;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => typeof a === 'string' && AUDIENCES.has(a))) return undefined;
  const now = Math.floor(Date.now() / 1000);
  const { exp, iat, jti } = claims;
  if (typeof exp !== 'number' || exp <= now || exp > now + MAX_AGE_SECONDS) return undefined;
  if (typeof iat === 'number' && iat > now + 60) return undefined;
  if (typeof jti !== 'string' || !spend(jti, exp, now)) return undefined;
  return CLIENT_ID;
}

const app = await ceilingServer();
app.post('/token', async (req, reply) => {
  const params = formParams(req);
  if (!params?.grant_type || params.client_assertion_type !== JWT_BEARER) return reply.code(400).send({ error: 'invalid_request' });
  const clientId = await checkAssertion(params.client_assertion);
  if (!clientId) return reply.code(401).send({ error: 'invalid_client' });
  reply.header('cache-control', 'no-store');
  return tokenResponse(signJwt, { issuer: ISSUER, clientId, scope: params.scope ?? '' });
});
await announce(app);

// Ceiling (e), the DPoP token ceiling: ceiling (b') plus one DPoP proof verified as Sigil verifies
// it (RFC 9449 §4.3: typ, alg, public jwk, one node:crypto signature check, htm, htu, iat, the key
// thumbprint) and the thumbprint put in cnf.jkt; no database, so no replay check: that insert is
// the part of Sigil's cost the ratio shows.
import { createHash, createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { announce, basicCredentials, ceilingServer, formParams } from './http.js';
import { createSigner, tokenResponse } from './token.js';

const ISSUER = process.env.BENCH_ISSUER ?? 'http://127.0.0.1';
const TOKEN_URL = `${ISSUER}/token`;
const WINDOW_SECONDS = 120;
const signJwt = await createSigner();

const json = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

// As Sigil does (src/oauth/dpop/dpop-proof.ts): a key's proofs share a header segment, parsed and
// imported once.
const headers = new Map<string, { key: KeyObject; jkt: string }>();
function headerOf(h: string): { key: KeyObject; jkt: string } | undefined {
  const cached = headers.get(h);
  if (cached) return cached;
  const header = json(h);
  const jwk = header.jwk as Record<string, string> | undefined;
  if (header.typ !== 'dpop+jwt' || header.alg !== 'ES256' || !jwk || 'd' in jwk) return undefined;
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const jkt = createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
  if (headers.size >= 1000) headers.clear();
  headers.set(h, { key, jkt });
  return { key, jkt };
}

/** The proof's key thumbprint, or undefined when the proof is not good. */
async function checkProof(proof: string | undefined): Promise<string | undefined> {
  const [h, p, s] = proof?.split('.') ?? [];
  if (!h || !p || !s) return undefined;
  const checked = headerOf(h);
  if (!checked) return undefined;
  const { key, jkt } = checked;
  const ok = await new Promise<boolean>((resolve) =>
    verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'), (err, good) => resolve(!err && good)),
  );
  if (!ok) return undefined;
  const claims = json(p);
  const now = Date.now() / 1000;
  if (claims.htm !== 'POST' || claims.htu !== TOKEN_URL || typeof claims.jti !== 'string') return undefined;
  if (typeof claims.iat !== 'number' || claims.iat > now + 60 || claims.iat < now - WINDOW_SECONDS) return undefined;
  return jkt;
}

const app = await ceilingServer();
app.post('/token', async (req, reply) => {
  const params = formParams(req);
  const client = basicCredentials(req.headers.authorization);
  if (!params?.grant_type || !client) return reply.code(400).send({ error: 'invalid_request' });
  const jkt = await checkProof(req.headers.dpop as string | undefined);
  if (!jkt) return reply.code(400).send({ error: 'invalid_dpop_proof' });
  reply.header('cache-control', 'no-store');
  return tokenResponse(signJwt, { issuer: ISSUER, clientId: client.clientId, scope: params.scope ?? '', tokenType: 'DPoP', extra: { cnf: { jkt } } });
});
await announce(app);

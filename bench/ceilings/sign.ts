// Ceiling (b), the token ceiling: the client_credentials request parsed as Sigil parses it and one
// ES256 JWT with RFC 9068 claims signed per request; no database, no client lookup. With jose, as
// issue 7 defines it; with BENCH_CRYPTO=node, ceiling (b'): signed as Sigil signs, by node:crypto
// on libuv's pool (src/keys/jws-signer.ts), shown for information.
import { announce, basicCredentials, ceilingServer, formParams } from './http.js';
import { createSigner, tokenResponse } from './token.js';

const ISSUER = 'http://127.0.0.1';
const signJwt = await createSigner(process.env.BENCH_CRYPTO === 'node' ? 'node' : 'jose');

const app = await ceilingServer();
app.post('/token', async (req, reply) => {
  const params = formParams(req);
  const client = basicCredentials(req.headers.authorization);
  if (!params?.grant_type || !client) return reply.code(400).send({ error: 'invalid_request' });
  reply.header('cache-control', 'no-store');
  return tokenResponse(signJwt, { issuer: ISSUER, clientId: client.clientId, scope: params.scope ?? '' });
});
await announce(app);

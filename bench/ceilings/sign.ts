// Ceiling (b), the token ceiling: the client_credentials request parsed as Sigil parses it and one
// ES256 JWT with RFC 9068 claims signed with jose per request; no database, no client lookup.
import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { announce, basicCredentials, ceilingServer, formParams } from './http.js';

const ISSUER = 'http://127.0.0.1';
const TTL_SECONDS = 600;
const { privateKey } = await generateKeyPair('ES256');

const app = await ceilingServer();
app.post('/token', async (req, reply) => {
  const params = formParams(req);
  const client = basicCredentials(req.headers.authorization);
  if (!params?.grant_type || !client) return reply.code(400).send({ error: 'invalid_request' });
  const scope = params.scope ?? '';
  const iat = Math.floor(Date.now() / 1000);
  const accessToken = await new SignJWT({
    iss: ISSUER,
    sub: client.clientId,
    aud: ISSUER,
    client_id: client.clientId,
    jti: randomUUID(),
    scope,
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'ceiling', typ: 'at+jwt' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + TTL_SECONDS)
    .sign(privateKey);
  reply.header('cache-control', 'no-store');
  return { access_token: accessToken, token_type: 'Bearer', expires_in: TTL_SECONDS, scope };
});
await announce(app);

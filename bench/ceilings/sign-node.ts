// Ceiling (b′), for information: ceiling (b) with the signature made as Sigil makes it, by
// node:crypto on libuv's pool (src/keys/jws-signer.ts) rather than by jose through WebCrypto.
// Issue 7 defines (b) with jose, and Sigil's targets are judged against (b); this one shows how
// close Sigil comes to the same request with the same signing path.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { announce, basicCredentials, ceilingServer, formParams } from './http.js';

const ISSUER = 'http://127.0.0.1';
const TTL_SECONDS = 600;
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const b64 = (text: string) => Buffer.from(text).toString('base64url');
const header = b64(JSON.stringify({ alg: 'ES256', kid: 'ceiling', typ: 'at+jwt' }));

const app = await ceilingServer();
app.post('/token', async (req, reply) => {
  const params = formParams(req);
  const client = basicCredentials(req.headers.authorization);
  if (!params?.grant_type || !client) return reply.code(400).send({ error: 'invalid_request' });
  const scope = params.scope ?? '';
  const iat = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, sub: client.clientId, aud: ISSUER, client_id: client.clientId, jti: randomUUID(), scope, iat, exp: iat + TTL_SECONDS };
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  const signature = await new Promise<Buffer>((resolve, reject) =>
    sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }, (err, sig) => (err ? reject(err) : resolve(sig))),
  );
  reply.header('cache-control', 'no-store');
  return { access_token: `${input}.${signature.toString('base64url')}`, token_type: 'Bearer', expires_in: TTL_SECONDS, scope };
});
await announce(app);

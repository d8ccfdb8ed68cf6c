// Ceiling (b), the token ceiling: the client_credentials request parsed as Sigil parses it and one
// ES256 JWT with RFC 9068 claims signed per request; no database, no client lookup. With jose, as
// issue 7 defines it; with BENCH_CRYPTO=node, ceiling (b'): signed as Sigil signs, by node:crypto
// on libuv's pool (src/keys/jws-signer.ts), shown for information.
import { KeyObject, randomUUID, sign } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { announce, basicCredentials, ceilingServer, formParams } from './http.js';

const ISSUER = 'http://127.0.0.1';
const TTL_SECONDS = 600;
const HEADER = { alg: 'ES256', kid: 'ceiling', typ: 'at+jwt' };
// A WebCrypto key, as jose wants it; node:crypto signs with the same key as a KeyObject.
const { privateKey } = await generateKeyPair('ES256');
const keyObject = KeyObject.from(privateKey);

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const encodedHeader = b64(JSON.stringify(HEADER));
const signWithNode = async (claims: Record<string, unknown>) => {
  const input = `${encodedHeader}.${b64(JSON.stringify(claims))}`;
  const signature = await new Promise<Buffer>((resolve, reject) =>
    sign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' }, (err, sig) => (err ? reject(err) : resolve(sig))),
  );
  return `${input}.${signature.toString('base64url')}`;
};
const signWithJose = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader(HEADER).sign(privateKey);
const signJwt = process.env.BENCH_CRYPTO === 'node' ? signWithNode : signWithJose;

const app = await ceilingServer();
app.post('/token', async (req, reply) => {
  const params = formParams(req);
  const client = basicCredentials(req.headers.authorization);
  if (!params?.grant_type || !client) return reply.code(400).send({ error: 'invalid_request' });
  const scope = params.scope ?? '';
  const iat = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, sub: client.clientId, aud: ISSUER, client_id: client.clientId, jti: randomUUID(), scope, iat, exp: iat + TTL_SECONDS };
  const accessToken = await signJwt(claims);
  reply.header('cache-control', 'no-store');
  return { access_token: accessToken, token_type: 'Bearer', expires_in: TTL_SECONDS, scope };
});
await announce(app);

// What the token ceilings share: an access token (RFC 9068 claims) signed per request, the way
// Sigil signs it (node:crypto on libuv's pool, src/keys/jws-signer.ts) or with jose, and the
// token response around it.
import { KeyObject, randomUUID, sign } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';

const TTL_SECONDS = 600;
const HEADER = { alg: 'ES256', kid: 'ceiling', typ: 'at+jwt' };
const b64 = (text: string) => Buffer.from(text).toString('base64url');

export type SignJwt = (claims: Record<string, unknown>) => Promise<string>;

/** An ES256 signer with a key of its own: node:crypto (as Sigil) by default, or jose (issue 7's (b)). */
export async function createSigner(crypto: 'node' | 'jose' = 'node'): Promise<SignJwt> {
  // A WebCrypto key, as jose wants it; node:crypto signs with the same key as a KeyObject.
  const { privateKey } = await generateKeyPair('ES256');
  if (crypto === 'jose') return (claims) => new SignJWT(claims).setProtectedHeader(HEADER).sign(privateKey);
  const keyObject = KeyObject.from(privateKey);
  const encodedHeader = b64(JSON.stringify(HEADER));
  return async (claims) => {
    const input = `${encodedHeader}.${b64(JSON.stringify(claims))}`;
    const signature = await new Promise<Buffer>((resolve, reject) =>
      sign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' }, (err, sig) => (err ? reject(err) : resolve(sig))),
    );
    return `${input}.${signature.toString('base64url')}`;
  };
}

/** The token response's body, its access token signed now; `extra` claims such as cnf. */
export async function tokenResponse(signJwt: SignJwt, o: { issuer: string; clientId: string; scope: string; tokenType?: string; extra?: Record<string, unknown> }) {
  const iat = Math.floor(Date.now() / 1000);
  const claims = { iss: o.issuer, sub: o.clientId, aud: o.issuer, client_id: o.clientId, jti: randomUUID(), scope: o.scope, iat, exp: iat + TTL_SECONDS, ...o.extra };
  return { access_token: await signJwt(claims), token_type: o.tokenType ?? 'Bearer', expires_in: TTL_SECONDS, scope: o.scope };
}

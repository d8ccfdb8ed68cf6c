import { decodeProtectedHeader, importJWK, type JWK, jwtVerify } from 'jose';
import t from 'tap';
import { SIGNING_ALGS } from '../../src/config.js';
import { createJwsSigner } from '../../src/keys/jws-signer.js';
import { generateSigningKey } from '../../src/keys/signing-key.js';

const claims = { iss: 'https://sigil.test', sub: 'ünïcode-user', aud: ['a', 'b'], client_id: 'c', jti: 'j', iat: 1_900_000_000, exp: 1_900_000_600 };

t.test('every algorithm signs a compact JWS that jose verifies with the public key alone', async (t) => {
  for (const alg of SIGNING_ALGS) {
    const key = await generateSigningKey(alg);
    const token = await createJwsSigner(alg, key.kid, key.privateJwk).sign(claims);
    t.same(decodeProtectedHeader(token), { alg, kid: key.kid, typ: 'at+jwt' }, `${alg}: the header`);
    const { payload } = await jwtVerify(token, await importJWK(key.publicJwk as JWK, alg), {
      algorithms: [alg],
      typ: 'at+jwt',
      currentDate: new Date(1_900_000_100_000),
    });
    t.same(payload, claims, `${alg}: the claims, unicode included`);
    const signature = Buffer.from(token.split('.')[2] ?? '', 'base64url');
    if (alg === 'ES256') t.equal(signature.length, 64, 'ES256: R || S, not DER (RFC 7518 §3.4)');
  }
});

t.test('a tampered payload does not verify', async (t) => {
  const key = await generateSigningKey('ES256');
  const [header, , signature] = (await createJwsSigner('ES256', key.kid, key.privateJwk).sign(claims)).split('.');
  const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${signature}`;
  await t.rejects(jwtVerify(forged, await importJWK(key.publicJwk as JWK, 'ES256')), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
});

t.test('a key of another type than the algorithm is refused when the signer is made', async (t) => {
  const ec = await generateSigningKey('ES256');
  const ed = await generateSigningKey('EdDSA');
  t.throws(() => createJwsSigner('EdDSA', 'k', ec.privateJwk), { message: 'signing key k is not a EdDSA key' });
  t.throws(() => createJwsSigner('RS256', 'k', ed.privateJwk), { message: 'signing key k is not a RS256 key' });
  t.throws(() => createJwsSigner('ES256', 'k', ec.publicJwk as JWK), 'a public key cannot sign');
});

import { createPrivateKey, type JsonWebKey, sign } from 'node:crypto';
import { importJWK, type JWK, SignJWT } from 'jose';
import t from 'tap';
import { SIGNING_ALGS } from '../../src/config.js';
import { createJwsSigner } from '../../src/keys/jws-signer.js';
import { importVerificationKey, type VerificationKey, verifyAccessToken } from '../../src/keys/jws-verifier.js';
import { generateSigningKey } from '../../src/keys/signing-key.js';

const ISSUER = 'https://sigil.test';
const NOW = 1_900_000_000;
const checks = { issuer: ISSUER, typ: 'at+jwt', clockToleranceSeconds: 60, now: new Date(NOW * 1000) };
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISSUER, sub: 'u', client_id: 'c', jti: 'j', iat: NOW, exp: NOW + 600, ...extra });
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

async function setup(alg: (typeof SIGNING_ALGS)[number] = 'ES256') {
  const key = await generateSigningKey(alg);
  const keys = new Map<string, VerificationKey>([[key.kid, importVerificationKey(key.publicJwk as JWK, alg, key.kid)]]);
  const verify = (token: string, c = checks) => verifyAccessToken(token, (kid) => keys.get(kid), c);
  const privateKey = await importJWK(key.privateJwk, alg);
  // Tokens signed with the real private key through jose, breaking one rule each.
  const forge = (header: Record<string, unknown> = {}, body: Record<string, unknown> = claims()) =>
    new SignJWT(body).setProtectedHeader({ alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(privateKey);
  return { key, keys, verify, forge };
}

t.test('tokens of every algorithm, from Sigil’s signer or from jose, verify', async (t) => {
  for (const alg of SIGNING_ALGS) {
    const { key, verify, forge } = await setup(alg);
    const ours = await createJwsSigner(alg, key.kid, key.privateJwk).sign(claims({ scope: 'read ünï' }));
    t.match(await verify(ours), { iss: ISSUER, scope: 'read ünï' }, `${alg}: Sigil's own`);
    t.ok(await verify(await forge()), `${alg}: jose's`);
    t.ok(await verify(await forge({ typ: 'application/at+jwt' })), `${alg}: typ with its media-type prefix`);
  }
});

t.test('the signature must hold over exactly the header and payload sent', async (t) => {
  const { verify, forge } = await setup();
  const [h, p, s] = (await forge()).split('.');
  const code = 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED';
  await t.rejects(verify(`${h}.${b64(claims({ sub: 'admin' }))}.${s}`), { code }, 'payload swapped');
  await t.rejects(verify(`${b64({ alg: 'ES256', kid: JSON.parse(Buffer.from(h ?? '', 'base64url').toString()).kid, typ: 'JWT' })}.${p}.${s}`), { code }, 'header swapped');
  await t.rejects(verify(`${h}.${p}.${s?.slice(0, -4)}AAAA`), { code }, 'signature altered');
  await t.rejects(verify(`${h}.${p}.${s?.slice(0, 20)}`), { code }, 'signature truncated');
  await t.rejects(verify(`${h}.${p}.${b64('x'.repeat(72))}`), { code }, 'a DER-length signature');
  const other = await setup();
  const [, , foreign] = (await other.forge()).split('.');
  await t.rejects(verify(`${h}.${p}.${foreign}`), { code }, "another key's signature");
});

t.test('the header decides nothing the key does not allow', async (t) => {
  const { key, verify, forge } = await setup();
  const [, p, s] = (await forge()).split('.');
  const withHeader = (header: Record<string, unknown>) => verify(`${b64(header)}.${p}.${s}`);
  await t.rejects(withHeader({ alg: 'none', kid: key.kid, typ: 'at+jwt' }), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' }, 'alg none');
  await t.rejects(withHeader({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' }), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' }, 'HMAC');
  await t.rejects(withHeader({ kid: key.kid, typ: 'at+jwt' }), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' }, 'no alg');
  await t.rejects(withHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' }), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'another algorithm than the key’s');
  await t.rejects(withHeader({ alg: 'ES256', kid: 'unknown', typ: 'at+jwt' }), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'unknown kid');
  await t.rejects(withHeader({ alg: 'ES256', typ: 'at+jwt' }), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'no kid');
  await t.rejects(withHeader({ alg: 'ES256', kid: ['x'], typ: 'at+jwt' }), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'kid not a string');
  const raw = (header: Record<string, unknown>) => signRaw(key.privateJwk, b64({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', ...header }), p ?? '');
  t.ok(await verify(raw({})), 'the control token verifies');
  await t.rejects(verify(raw({ crit: ['exp'], exp: 1 })), { code: 'ERR_JOSE_NOT_SUPPORTED' }, 'crit');
  await t.rejects(verify(raw({ b64: false })), { code: 'ERR_JOSE_NOT_SUPPORTED' }, 'b64 (RFC 7797)');
  await t.rejects(verify(await forge({ typ: 'JWT' })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'typ' }, 'typ JWT');
  await t.rejects(verify(await forge({ typ: undefined })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'typ' }, 'no typ');
});

t.test('malformed tokens are refused before any signature work', async (t) => {
  const { verify, forge } = await setup();
  const [h, p, s] = (await forge()).split('.');
  for (const token of [
    '',
    'not-a-jwt',
    'a.b',
    `${h}.${p}.${s}.extra`,
    `${h}..${s}`,
    `${h}.${p}.`,
    `${h}.${p}.${s}=`,
    `${h}.${p}.${s}\u0000`,
    ` ${h}.${p}.${s}`,
    `${b64('[1,2]')}.${p}.${s}`,
    `${b64('null')}.${p}.${s}`,
    `${b64('{"alg":')}.${p}.${s}`,
    `${Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')}.${p}.${s}`,
  ]) {
    await t.rejects(verify(token), { code: /^ERR_JWS_INVALID$/ }, JSON.stringify(token.slice(0, 40)));
  }
});

t.test('claims: a JSON object from our issuer, iat a number, nbf reached, exp not past (with the tolerance)', async (t) => {
  const { verify, forge } = await setup();
  const invalid = 'ERR_JWT_CLAIM_VALIDATION_FAILED';
  await t.rejects(verify(await forge({}, claims({ iss: 'https://evil.example' }))), { code: invalid, claim: 'iss' });
  await t.rejects(verify(await forge({}, claims({ iss: undefined }))), { code: invalid, claim: 'iss' });
  await t.rejects(verify(await forge({}, claims({ exp: undefined }))), { code: invalid, claim: 'exp', reason: 'missing' });
  await t.rejects(verify(await forge({}, claims({ exp: '1900000600' }))), { code: invalid, claim: 'exp', reason: 'invalid' });
  await t.rejects(verify(await forge({}, claims({ iat: undefined }))), { code: invalid, claim: 'iat', reason: 'missing' });
  await t.rejects(verify(await forge({}, claims({ iat: null }))), { code: invalid, claim: 'iat' });
  await t.rejects(verify(await forge({}, claims({ nbf: NOW + 61 }))), { code: invalid, claim: 'nbf' });
  t.ok(await verify(await forge({}, claims({ nbf: NOW + 60 }))), 'nbf within the tolerance');
  t.ok(await verify(await forge({}, claims({ exp: NOW - 59 }))), 'exp within the tolerance');
  await t.rejects(verify(await forge({}, claims({ exp: NOW - 60 }))), { code: 'ERR_JWT_EXPIRED' });
  const { key } = await setup();
  const keys = new Map([[key.kid, importVerificationKey(key.publicJwk as JWK, 'ES256', key.kid)]]);
  // Signed payloads that are not a JSON object, or not UTF-8.
  const header = b64({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' });
  for (const payload of [b64('[1]'), b64('"text"'), b64('not json'), Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')]) {
    const token = signRaw(key.privateJwk, header, payload);
    await t.rejects(verifyAccessToken(token, (kid) => keys.get(kid), checks), { code: 'ERR_JWT_INVALID' }, payload);
  }
});

t.test('a public key must fit the algorithm it is published for', async (t) => {
  const ec = await generateSigningKey('ES256');
  t.throws(() => importVerificationKey(ec.publicJwk as JWK, 'RS256', 'k'), { message: 'signing key k is not a RS256 key' });
  t.throws(() => importVerificationKey(ec.publicJwk as JWK, 'EdDSA', 'k'), { message: 'signing key k is not a EdDSA key' });
});

/** An ES256 compact JWS over exactly these header and payload segments (jose refuses to make some of them). */
function signRaw(privateJwk: JWK, header: string, payload: string): string {
  const key = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${signature.toString('base64url')}`;
}

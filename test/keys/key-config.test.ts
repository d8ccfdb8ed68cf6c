import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import t from 'tap';
import { ConfigError, parseConfig } from '../../src/config.js';

const KEK = randomBytes(32).toString('base64');

t.test('defaults: ES256, weekly rotation, 10 min max-age, 1 h lead, retention covering the token TTL', async (t) => {
  const c = parseConfig({});
  t.equal(c.accessTokenTtl, 600);
  t.match(c.keys, {
    alg: 'ES256',
    rsaBits: 2048,
    rotationIntervalSeconds: 7 * 86400,
    leadTimeSeconds: 3600,
    retentionSeconds: 3600,
    jwksMaxAgeSeconds: 600,
    reloadIntervalSeconds: 30,
    clockSkewSeconds: 60,
    encryptionKey: undefined,
    oldEncryptionKeys: [],
  });
  t.ok(c.keys.leadTimeSeconds >= c.keys.jwksMaxAgeSeconds + c.keys.reloadIntervalSeconds + c.keys.clockSkewSeconds);
  t.equal(parseConfig({ SIGIL_ACCESS_TOKEN_TTL: '7200' }).keys.retentionSeconds, 7200 + 60 + 30, 'unset retention follows the TTL');
});

t.test('every algorithm is selectable; RSA key size only with RSA', async (t) => {
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) t.equal(parseConfig({ SIGIL_SIGNING_ALG: alg }).keys.alg, alg);
  t.equal(parseConfig({ SIGIL_SIGNING_ALG: 'PS256', SIGIL_KEY_RSA_BITS: '3072' }).keys.rsaBits, 3072);
});

t.test('invalid algorithms and combinations are refused with a message naming the setting', async (t) => {
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ SIGIL_SIGNING_ALG: 'HS256' }, /^SIGIL_SIGNING_ALG: must be one of ES256, EdDSA, RS256, PS256/],
    [{ SIGIL_SIGNING_ALG: 'none' }, /^SIGIL_SIGNING_ALG/],
    [{ SIGIL_SIGNING_ALG: 'es256' }, /^SIGIL_SIGNING_ALG/],
    [{ SIGIL_SIGNING_ALG: 'ES256', SIGIL_KEY_RSA_BITS: '2048' }, /SIGIL_KEY_RSA_BITS applies only to RS256 and PS256/],
    [{ SIGIL_SIGNING_ALG: 'RS256', SIGIL_KEY_RSA_BITS: '1024' }, /^SIGIL_KEY_RSA_BITS: must be 2048, 3072 or 4096/],
    [{ SIGIL_KEY_LEAD_TIME_SECONDS: '300' }, /SIGIL_KEY_LEAD_TIME_SECONDS \(300\) must be at least .* \(690\)/],
    [{ SIGIL_JWKS_MAX_AGE_SECONDS: '3600' }, /SIGIL_KEY_LEAD_TIME_SECONDS \(3600\) must be at least/],
    [{ SIGIL_KEY_RETENTION_SECONDS: '600' }, /SIGIL_KEY_RETENTION_SECONDS \(600\) must be at least .* \(690\)/],
    [
      { SIGIL_ACCESS_TOKEN_TTL: '3600', SIGIL_KEY_RETENTION_SECONDS: '3600' },
      /SIGIL_KEY_RETENTION_SECONDS \(3600\) must be at least/,
    ],
    [{ SIGIL_KEY_ROTATION_INTERVAL_SECONDS: '3600' }, /SIGIL_KEY_ROTATION_INTERVAL_SECONDS \(3600\) must be longer than/],
    [{ SIGIL_KEY_ROTATION_INTERVAL_SECONDS: '60' }, /^SIGIL_KEY_ROTATION_INTERVAL_SECONDS/],
    [{ SIGIL_KEY_RELOAD_SECONDS: '0' }, /^SIGIL_KEY_RELOAD_SECONDS/],
  ];
  for (const [env, message] of refused) t.throws(() => parseConfig(env), { name: 'ConfigError', message }, JSON.stringify(env));
});

t.test('key-encryption keys: 32 bytes base64; never echoed, logged or serialized', async (t) => {
  const c = parseConfig({ SIGIL_KEY_ENCRYPTION_KEY: KEK, SIGIL_KEY_ENCRYPTION_KEYS_OLD: `${KEK}, ${KEK.replace(/\+/g, '-').replace(/\//g, '_')}` });
  t.same(Buffer.from(c.keys.encryptionKey?.reveal() ?? []), Buffer.from(KEK, 'base64'));
  t.equal(c.keys.oldEncryptionKeys.length, 2, 'a comma-separated list; url-safe base64 accepted');
  t.notOk(JSON.stringify(c).includes(KEK.slice(0, 20)), 'JSON.stringify(config) shows no key');
  t.notOk(inspect(c, { depth: 10 }).includes(KEK.slice(0, 20)), 'util.inspect(config) shows no key');
  t.match(JSON.stringify(c.keys), /"encryptionKey":"\[redacted\]"/);

  const short = randomBytes(16).toString('base64');
  for (const [name, value] of [
    ['SIGIL_KEY_ENCRYPTION_KEY', short],
    ['SIGIL_KEY_ENCRYPTION_KEY', 'not base64 at all, but 44 characters long!!'],
    ['SIGIL_KEY_ENCRYPTION_KEYS_OLD', `${KEK},${short}`],
  ] as const) {
    try {
      parseConfig({ [name]: value });
      t.fail(`${name} accepted`);
    } catch (err) {
      t.type(err, ConfigError);
      t.match((err as Error).message, new RegExp(`^${name}: .*32 random bytes`));
      t.notOk((err as Error).message.includes(value.slice(0, 10)), 'the rejected value is not echoed');
    }
  }
});

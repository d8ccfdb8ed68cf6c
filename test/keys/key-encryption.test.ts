import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, type JWK } from 'jose';
import t from 'tap';
import { ConfigError, Secret } from '../../src/config.js';
import { decryptPrivateKey, encryptPrivateKey, toKeyEncryptionKeys } from '../../src/keys/key-crypto.js';
import { KEK_FILE, loadKeyEncryptionKeys } from '../../src/keys/key-encryption-key.js';
import { createKeyRepository } from '../../src/keys/key-repository.js';
import { keyState } from '../../src/keys/key-schedule.js';
import { createKeyService } from '../../src/keys/key-service.js';
import { rewrapKeys } from '../../src/keys/rewrap.js';
import { createTestDatabase } from '../helpers/db.js';
import { createTestKeys, keysTestConfig, testEncryptionKeys } from '../helpers/keys.js';

t.test('a stored private key is encrypted, and useless without the key-encryption key', async (t) => {
  const { db } = await createTestDatabase(t);
  const keks = testEncryptionKeys();
  const keys = await createTestKeys(db, { encryptionKeys: keks });
  const [stored] = await createKeyRepository(db).list();
  if (!stored) throw new Error('no key');
  const privateJwk = decryptPrivateKey(stored.encrypted, stored.kid, keks) as JWK & { d: string };
  t.match(privateJwk, { kty: 'EC', crv: 'P-256', d: /^[\w-]{43}$/ }, 'the right KEK opens it');

  const row = JSON.stringify((await db.query('select * from signing_keys')).rows, (_k, v) =>
    v instanceof Uint8Array || Buffer.isBuffer(v) ? Buffer.from(v).toString('latin1') + Buffer.from(v).toString('base64') : v,
  );
  t.notOk(row.includes(privateJwk.d), 'the private scalar appears nowhere in the row, in any encoding we store');
  t.notOk(row.includes(Buffer.from(privateJwk.d, 'base64url').toString('base64')), 'not even as base64 bytes');
  t.notOk(/"d"\s*:/.test(row), 'no JWK private member in clear');
  t.equal(stored.encrypted.nonce.length, 12);

  const other = testEncryptionKeys();
  t.throws(() => decryptPrivateKey(stored.encrypted, stored.kid, other), {
    name: 'KeyEncryptionKeyError',
    message: new RegExp(`signing key ${stored.kid} was encrypted with key-encryption key ${keks.current.id}`),
  });
  // Even a KEK that claims the right id (a forged fingerprint) cannot open it.
  const forged = { ...other, current: { ...other.current, id: keks.current.id } };
  t.throws(() => decryptPrivateKey(stored.encrypted, stored.kid, forged), { name: 'KeyEncryptionKeyError', message: /does not decrypt/ });
  t.throws(() => decryptPrivateKey(stored.encrypted, 'another-kid', keks), { message: /does not decrypt/ }, 'the kid is bound as associated data');
  const flipped = Buffer.from(stored.encrypted.ciphertext);
  flipped[0] = (flipped[0] ?? 0) ^ 1;
  t.throws(() => decryptPrivateKey({ ...stored.encrypted, ciphertext: flipped }, stored.kid, keks), { message: /does not decrypt/ });

  const reused = encryptPrivateKey(privateJwk, stored.kid, keks.current);
  t.not(reused.nonce.toString('hex'), stored.encrypted.nonce.toString('hex'), 'a fresh nonce every time');
  t.ok(await importJWK(privateJwk, 'ES256'), 'what comes out is a usable key');
  t.ok(keys.jwks().body.length > 0);
});

t.test('a wrong key-encryption key stops start-up with a message, before anything is written', async (t) => {
  const { db } = await createTestDatabase(t);
  await createTestKeys(db);
  const before = await createKeyRepository(db).list();
  const service = createKeyService({ db, config: keysTestConfig(), encryptionKeys: testEncryptionKeys() });
  const err = await service.load().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, ConfigError, 'a ConfigError: the CLI and the server print it as one line');
  t.match(err, {
    name: 'KeyEncryptionKeyError',
    message: /^signing key \S+ was encrypted with key-encryption key [0-9a-f]{16}, but SIGIL_KEY_ENCRYPTION_KEY holds [0-9a-f]{16}: set the key it was created with/,
  });
  t.same((await createKeyRepository(db).list()).map((k) => k.kid), before.map((k) => k.kid), 'no key created with the wrong KEK');
});

t.test('rewrap moves every key to the new key-encryption key; the old one is then not needed', async (t) => {
  const { db } = await createTestDatabase(t);
  const oldKek = new Secret(randomBytes(32));
  const newKek = new Secret(randomBytes(32));
  await createTestKeys(db, { encryptionKeys: toKeyEncryptionKeys(oldKek) });
  const service = createKeyService({ db, config: keysTestConfig(), encryptionKeys: toKeyEncryptionKeys(oldKek) });
  await service.load();
  await service.rotation.rotate();

  const both = toKeyEncryptionKeys(newKek, [oldKek]);
  const result = await rewrapKeys(db, both);
  t.equal(result.rewrapped.length, 2);
  t.same(result.current, []);
  t.same(await rewrapKeys(db, both), { rewrapped: [], current: result.rewrapped }, 'idempotent');
  for (const k of await createKeyRepository(db).list()) t.equal(k.encrypted.kekId, both.current.id);
  const fresh = createKeyService({ db, config: keysTestConfig(), encryptionKeys: toKeyEncryptionKeys(newKek) });
  await fresh.load();
  t.ok(await fresh.sign({ iss: 'https://sigil.test' }, 60), 'signs with the new KEK alone');
  await t.rejects(rewrapKeys(db, toKeyEncryptionKeys(new Secret(randomBytes(32)))), { name: 'KeyEncryptionKeyError' });
});

t.test('a lost key-encryption key: revoking every key (the signing one last) starts over with a new one', async (t) => {
  const { db } = await createTestDatabase(t);
  const lost = testEncryptionKeys();
  const before = createKeyService({ db, config: keysTestConfig(), encryptionKeys: lost });
  await before.load();
  await before.rotation.rotate({ now: true });
  await before.rotation.rotate(); // retired, active and pending keys, all under the lost KEK

  const replacement = testEncryptionKeys();
  const after = createKeyService({ db, config: keysTestConfig(), encryptionKeys: replacement });
  await t.rejects(after.load(), { name: 'KeyEncryptionKeyError' }, 'refuses to start with keys it cannot open');
  await t.rejects(after.rotation.rotate({ now: true }), { name: 'KeyEncryptionKeyError' }, 'and to mix KEKs');
  const order = { retired: 0, pending: 1, active: 2 } as Record<string, number>;
  const t0 = new Date();
  const stored = (await createKeyRepository(db).list()).sort(
    (a, b) => (order[keyState(a, t0)] ?? 0) - (order[keyState(b, t0)] ?? 0),
  );
  for (const k of stored) await after.rotation.revoke(k.kid);
  await after.load();
  const current = await createKeyRepository(db).list();
  t.equal(current.filter((k) => !k.revokedAt).length, 1, 'one new key');
  t.equal(current.find((k) => !k.revokedAt)?.encrypted.kekId, replacement.current.id, 'under the new KEK');
  t.ok(await after.sign({ iss: 'https://sigil.test' }, 60));
});

t.test('the key-encryption key file of the embedded default', async (t) => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'sigil-kek-')), 'data');
  const config = { ...keysTestConfig(), databaseUrl: undefined, dataDir };
  const first = loadKeyEncryptionKeys(config);
  const path = join(dataDir, KEK_FILE);
  t.equal(statSync(path).mode & 0o777, 0o600, 'created with mode 0600');
  t.equal(statSync(dataDir).mode & 0o777, 0o700, 'in a private folder');
  t.equal(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64').length, 32);
  t.equal(first.source, path, 'messages name the file, not the variable');
  t.equal(loadKeyEncryptionKeys(config).current.id, first.current.id, 'reused on the next start');

  const env = new Secret(randomBytes(32));
  const fromEnv = loadKeyEncryptionKeys({ ...config, keys: { ...config.keys, encryptionKey: env } });
  t.equal(fromEnv.source, 'SIGIL_KEY_ENCRYPTION_KEY', 'the variable wins over the file');

  t.throws(() => loadKeyEncryptionKeys({ ...config, databaseUrl: 'postgres://db/sigil' }), {
    name: 'ConfigError',
    message: /^SIGIL_KEY_ENCRYPTION_KEY is required with DATABASE_URL/,
  });

  chmodSync(path, 0o644);
  t.throws(() => loadKeyEncryptionKeys(config), { name: 'KeyEncryptionKeyError', message: /readable by other users: .*chmod 600/ });
  chmodSync(path, 0o600);
  writeFileSync(path, 'c2hvcnQ=\n');
  t.throws(() => loadKeyEncryptionKeys(config), { message: /does not hold a 32-byte base64 key/ });
});

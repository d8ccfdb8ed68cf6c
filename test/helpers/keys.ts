import { randomBytes } from 'node:crypto';
import { type Config, parseConfig, Secret } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { type KeyEncryptionKeys, toKeyEncryptionKeys } from '../../src/keys/key-crypto.js';
import { createKeyService, type ManagedKeyService } from '../../src/keys/key-service.js';

export const TEST_KEYS_ISSUER = 'https://sigil.test';

/** A fresh random key-encryption key, as SIGIL_KEY_ENCRYPTION_KEY would give. */
export function testEncryptionKeys(): KeyEncryptionKeys {
  return toKeyEncryptionKeys(new Secret(randomBytes(32)));
}

/** A Config from environment-style settings, with a test issuer; parseConfig validates it as at start-up. */
export function keysTestConfig(env: Record<string, string> = {}): Config {
  return parseConfig({ SIGIL_ISSUER: TEST_KEYS_ISSUER, ...env });
}

export interface TestKeysOptions {
  /** The injected clock (default: the real one). */
  now?: () => Date;
  /** Default: keysTestConfig(). Its issuer is what verify() expects in `iss`. */
  config?: Pick<Config, 'issuer' | 'keys'>;
  encryptionKeys?: KeyEncryptionKeys;
}

/**
 * A loaded key service on a test database: the first key exists and signs, sign/verify/jwks work.
 * No timer and no LISTEN, so nothing needs stopping; drive time with `now` and `keys.tick()`.
 *
 *   const { db } = await createTestDatabase(t);
 *   const keys = await createTestKeys(db, { now: () => clock });
 *   const app = await buildApp({ config, db, keys, migrationVersion });
 */
export async function createTestKeys(db: Database, o: TestKeysOptions = {}): Promise<ManagedKeyService> {
  const keys = createKeyService({
    db,
    config: o.config ?? keysTestConfig(),
    encryptionKeys: o.encryptionKeys ?? testEncryptionKeys(),
    ...(o.now && { now: o.now }),
  });
  await keys.load();
  return keys;
}

/** A clock for tests: read with `now`, moved with `set`/`advance` (seconds). */
export function testClock(start = new Date('2030-01-01T00:00:00Z')) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    set: (d: Date) => {
      t = d.getTime();
    },
    advance: (seconds: number) => {
      t += seconds * 1000;
    },
  };
}

import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, ConfigError, Secret } from '../config.js';
import { type KeyEncryptionKeys, KeyEncryptionKeyError, toKeyEncryptionKeys } from './key-crypto.js';

export const KEK_FILE = 'key-encryption-key';

/**
 * The key-encryption keys for this process: SIGIL_KEY_ENCRYPTION_KEY when set. Otherwise, on the
 * embedded database only, a key generated on first start into the data folder (mode 0600), which
 * keeps `npm start` free of setup. With DATABASE_URL the key must come from the environment:
 * instances sharing a database must share the key, and a file on one machine cannot give that.
 */
export function loadKeyEncryptionKeys(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'keys'>): KeyEncryptionKeys {
  const { encryptionKey, oldEncryptionKeys } = config.keys;
  if (encryptionKey) return toKeyEncryptionKeys(encryptionKey, oldEncryptionKeys);
  if (config.databaseUrl) {
    throw new ConfigError(
      'SIGIL_KEY_ENCRYPTION_KEY is required with DATABASE_URL (every instance needs the same key; generate one with `openssl rand -base64 32`)',
    );
  }
  return toKeyEncryptionKeys(readOrCreateKeyFile(config.dataDir), oldEncryptionKeys, join(config.dataDir, KEK_FILE));
}

function readOrCreateKeyFile(dataDir: string): Secret {
  const path = join(dataDir, KEK_FILE);
  try {
    return readKeyFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Written to a private temporary file, then linked into place: link fails if another process
  // got there first, and nobody ever reads a half-written key.
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${randomBytes(32).toString('base64')}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  return readKeyFile(path);
}

function readKeyFile(path: string): Secret {
  const mode = statSync(path).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new KeyEncryptionKeyError(`${path} is readable by other users: restrict it with \`chmod 600 ${path}\``);
  }
  const bytes = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (bytes.length !== 32) throw new KeyEncryptionKeyError(`${path} does not hold a 32-byte base64 key`);
  return new Secret(bytes);
}

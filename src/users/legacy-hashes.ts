import { pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcrypt';

/**
 * The password hashes an imported user may carry until her first login, when Sigil stores an
 * argon2id hash instead (the rehash path of the password grant). Each format is parsed strictly
 * at import, so a hash that is stored can be verified: a hash Sigil could not check would be a
 * user who can never log in.
 *
 * Work factors are bounded above as well as reported when weak: an imported hash is verified on
 * every failed login, so one with a huge cost would let anyone who knows the username spend the
 * server's CPU (bcrypt cost 31 takes days).
 */
export type HashFormat = 'argon2id' | 'argon2i' | 'bcrypt' | 'pbkdf2_sha256';

export interface ParsedHash {
  format: HashFormat;
  /** Set when the parameters are below today's advice: imported all the same, and reported. */
  weakness?: string;
}

export const BCRYPT_MIN_COST = 10;
export const BCRYPT_MAX_COST = 16;
export const PBKDF2_MIN_ITERATIONS = 100_000;
export const PBKDF2_MAX_ITERATIONS = 5_000_000;
export const ARGON2_MAX_MEMORY_KIB = 262_144;
export const ARGON2_MAX_TIME_COST = 16;

const B64 = '[A-Za-z0-9+/]';
// PHC strings (version 19, or none for 16); m, t and p in any order, as writers differ (the
// reference implementation writes m,t,p; node's argon2 m,p,t).
const ARGON2 = new RegExp(`^\\$(argon2id|argon2i)\\$(?:v=(?:16|19)\\$)?([mtp]=\\d{1,7},[mtp]=\\d{1,7},[mtp]=\\d{1,7})\\$${B64}{11,}\\$${B64}{16,}$`);
// Modular crypt format: $2a$ / $2b$ / $2y$ (PHP's name for the same fixed algorithm), 2-digit cost,
// 22 characters of salt and 31 of hash in bcrypt's own base64 alphabet.
const BCRYPT = /^\$2([aby])\$(\d{2})\$[./A-Za-z0-9]{53}$/;
// Django's PBKDF2PasswordHasher: algorithm$iterations$salt$base64(hash), the hash 32 bytes of
// PBKDF2-HMAC-SHA256 over the UTF-8 password and the salt as written.
const DJANGO_PBKDF2 = /^pbkdf2_sha256\$(\d{1,8})\$([^$]{1,128})\$([A-Za-z0-9+/]{43}=)$/;

/** The format and strength of a hash, or a reason (that never quotes the hash) why Sigil cannot use it. */
export function parseHash(hash: string): ParsedHash | { error: string } {
  const argon = ARGON2.exec(hash);
  if (argon) {
    const [, type, list] = argon;
    const params = new Map((list as string).split(',').map((kv) => [kv[0], Number(kv.slice(2))] as const));
    const [m, tc, p] = [params.get('m'), params.get('t'), params.get('p')];
    if (params.size !== 3) return { error: 'argon2 parameters must name m, t and p once each' };
    if (Number(m) > ARGON2_MAX_MEMORY_KIB || Number(tc) > ARGON2_MAX_TIME_COST || Number(p) < 1 || Number(p) > 16) {
      return { error: `argon2 parameters beyond what Sigil verifies (m at most ${ARGON2_MAX_MEMORY_KIB}, t at most ${ARGON2_MAX_TIME_COST})` };
    }
    return { format: type as 'argon2id' | 'argon2i' };
  }
  const bc = BCRYPT.exec(hash);
  if (bc) {
    const cost = Number(bc[2]);
    if (cost < 4 || cost > BCRYPT_MAX_COST) return { error: `bcrypt cost ${cost} is outside 4 to ${BCRYPT_MAX_COST}` };
    return { format: 'bcrypt', ...(cost < BCRYPT_MIN_COST && { weakness: `bcrypt cost ${cost} is below ${BCRYPT_MIN_COST}` }) };
  }
  const dj = DJANGO_PBKDF2.exec(hash);
  if (dj) {
    const iterations = Number(dj[1]);
    if (iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
      return { error: `pbkdf2_sha256 iterations outside 1 to ${PBKDF2_MAX_ITERATIONS}` };
    }
    return {
      format: 'pbkdf2_sha256',
      ...(iterations < PBKDF2_MIN_ITERATIONS && {
        weakness: `pbkdf2_sha256 with ${iterations} iterations is below ${PBKDF2_MIN_ITERATIONS}`,
      }),
    };
  }
  return { error: 'unsupported password_hash format (Sigil verifies argon2id, argon2i, bcrypt and pbkdf2_sha256)' };
}

const pbkdf2Async = promisify(pbkdf2);

/**
 * Checks a password against a bcrypt or Django PBKDF2 hash. Both run on libuv's thread pool
 * (native bcrypt, node:crypto), never on the event loop. False for anything unparsable.
 */
export async function verifyLegacyHash(hash: string, password: string): Promise<boolean> {
  const bc = BCRYPT.exec(hash);
  if (bc) {
    // The bcrypt package knows $2a$ and $2b$ only; $2y$ is the same algorithm under PHP's name.
    return bcrypt.compare(password, bc[1] === 'y' ? `$2b$${hash.slice(4)}` : hash);
  }
  const dj = DJANGO_PBKDF2.exec(hash);
  if (dj) {
    const [, iterations, salt, encoded] = dj;
    const expected = Buffer.from(encoded as string, 'base64');
    const actual = await pbkdf2Async(password, salt as string, Number(iterations), expected.length, 'sha256');
    return timingSafeEqual(actual, expected);
  }
  return false;
}

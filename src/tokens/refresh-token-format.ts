// A refresh token names where it is stored: its family and its generation (0 at login, one more
// at each rotation), beside 32 random bytes. The database keeps it under (family, generation), the
// key its successor is inserted under too, so a rotation writes into the index leaf it has just
// read instead of into random leaves of a hash index (docs/benchmarks.md#scale). Only a SHA-256 of
// the whole token is stored, and a row is found only when that hash matches as well: the name
// alone, which a token's holder can read, finds nothing.
import { randomBytes } from 'node:crypto';

const FAMILY_BYTES = 16;
const GENERATION_BYTES = 4;
const SECRET_BYTES = 32;
const TOKEN_BYTES = FAMILY_BYTES + GENERATION_BYTES + SECRET_BYTES;
const TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 4) / 3);
const FORMAT = new RegExp(`^[A-Za-z0-9_-]{${TOKEN_CHARS}}$`);
// PostgreSQL's integer.
const MAX_GENERATION = 2 ** 31 - 1;

/** A uuid's text form from its 32 hex digits. */
export const uuidFromHex = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;

export interface RefreshTokenName {
  familyId: string;
  generation: number;
}

export function formatRefreshToken(familyId: string, generation: number, secret: Buffer = randomBytes(SECRET_BYTES)): string {
  const family = Buffer.from(familyId.replaceAll('-', ''), 'hex');
  if (family.length !== FAMILY_BYTES || secret.length !== SECRET_BYTES) throw new Error('a refresh token needs a uuid family and 32 secret bytes');
  if (!Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION) throw new Error('a refresh token generation is a non-negative int4');
  const g = Buffer.alloc(GENERATION_BYTES);
  g.writeUInt32BE(generation);
  return Buffer.concat([family, g, secret]).toString('base64url');
}

/** The family and generation a token names; undefined for anything else (a token from before
 * migration 013 was 32 random bytes alone, and is found by its hash). */
export function parseRefreshToken(token: string): RefreshTokenName | undefined {
  if (!FORMAT.test(token)) return undefined;
  const b = Buffer.from(token, 'base64url');
  const generation = b.readUInt32BE(FAMILY_BYTES);
  // A token at the last generation has no successor that fits: it is no token Sigil handed out.
  if (generation >= MAX_GENERATION) return undefined;
  return { familyId: uuidFromHex(b.subarray(0, FAMILY_BYTES).toString('hex')), generation };
}

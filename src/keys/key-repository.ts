import type { SigningAlg } from '../config.js';
import type { Queryable } from '../db/database.js';
import type { EncryptedPrivateKey } from './key-crypto.js';
import type { KeySchedule } from './key-schedule.js';
import type { PublicJwk } from './signing-key.js';

/** A signing key as stored: its schedule, its public JWK and its encrypted private key. */
export interface StoredKey extends KeySchedule {
  alg: SigningAlg;
  publicJwk: PublicJwk;
  encrypted: EncryptedPrivateKey;
  createdAt: Date;
}

interface KeyRow {
  kid: string;
  generation: number;
  alg: SigningAlg;
  public_jwk: PublicJwk;
  private_key_ciphertext: Uint8Array;
  private_key_nonce: Uint8Array;
  kek_id: string;
  created_at: Date;
  activates_at: Date;
  retires_at: Date | null;
  removes_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = `kid, generation, alg, public_jwk, private_key_ciphertext, private_key_nonce, kek_id,
  created_at, activates_at, retires_at, removes_at, revoked_at`;

// pg hands bytea back as Buffer, PGlite as Uint8Array: one shape from here on.
const toStoredKey = (r: KeyRow): StoredKey => ({
  kid: r.kid,
  generation: r.generation,
  alg: r.alg,
  publicJwk: r.public_jwk,
  encrypted: { ciphertext: Buffer.from(r.private_key_ciphertext), nonce: Buffer.from(r.private_key_nonce), kekId: r.kek_id },
  createdAt: r.created_at,
  activatesAt: r.activates_at,
  retiresAt: r.retires_at,
  removesAt: r.removes_at,
  revokedAt: r.revoked_at,
});

export type ScheduleUpdate = Pick<KeySchedule, 'kid' | 'activatesAt' | 'retiresAt' | 'removesAt' | 'revokedAt'>;

export interface KeyRepository {
  /** Every stored key, oldest first. A handful of rows: the whole set is always read at once. */
  list(): Promise<StoredKey[]>;
  insert(key: StoredKey): Promise<void>;
  updateSchedule(u: ScheduleUpdate): Promise<void>;
  /** Replaces the encrypted private key if it is still wrapped by `fromKekId`. */
  rewrap(kid: string, fromKekId: string, encrypted: EncryptedPrivateKey): Promise<boolean>;
  delete(kid: string): Promise<void>;
}

export function createKeyRepository(db: Queryable): KeyRepository {
  return {
    async list() {
      return (await db.query<KeyRow>(`select ${COLUMNS} from signing_keys order by generation`)).rows.map(toStoredKey);
    },
    async insert(k) {
      await db.query(
        `insert into signing_keys (kid, generation, alg, public_jwk, private_key_ciphertext, private_key_nonce, kek_id,
           created_at, activates_at, retires_at, removes_at, revoked_at)
         values ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          k.kid,
          k.generation,
          k.alg,
          JSON.stringify(k.publicJwk),
          k.encrypted.ciphertext,
          k.encrypted.nonce,
          k.encrypted.kekId,
          k.createdAt,
          k.activatesAt,
          k.retiresAt,
          k.removesAt,
          k.revokedAt,
        ],
      );
    },
    async updateSchedule(u) {
      await db.query(
        `update signing_keys set activates_at = $2, retires_at = $3, removes_at = $4, revoked_at = $5 where kid = $1`,
        [u.kid, u.activatesAt, u.retiresAt, u.removesAt, u.revokedAt],
      );
    },
    async rewrap(kid, fromKekId, e) {
      const r = await db.query(
        `update signing_keys set private_key_ciphertext = $3, private_key_nonce = $4, kek_id = $5
         where kid = $1 and kek_id = $2 returning kid`,
        [kid, fromKekId, e.ciphertext, e.nonce, e.kekId],
      );
      return r.rows.length > 0;
    },
    async delete(kid) {
      await db.query('delete from signing_keys where kid = $1', [kid]);
    },
  };
}

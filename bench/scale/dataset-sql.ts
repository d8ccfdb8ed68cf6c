// The rows of the scale dataset (issue 16), as bulk SQL over generate_series: one statement a
// table, every row going through the tables' real constraints. Names are derived from a row's
// number, so the bench can present a live refresh token or a client's secret without storing any:
// family i belongs to user i % users and client i % clients; its tokens are generations 0 to 4,
// named as Sigil names them (src/tokens/refresh-token-format.ts) with a secret derived from (i, k),
// and spent but the last (a token is spent when its successor exists).
// test/db/hot-plans.test.ts builds the same rows at a smaller size for its plan guards.
import { createHash } from 'node:crypto';
import { formatRefreshToken, uuidFromHex } from '../../src/tokens/refresh-token-format.js';

export interface ScaleSizes {
  users: number;
  clients: number;
  /** Rows of refresh_tokens; families are a fifth of this (TOKENS_PER_FAMILY each). */
  refreshTokens: number;
  revocations: number;
  loginFailures: number;
}

export const SCALE_FULL: ScaleSizes = {
  users: 1_000_000,
  clients: 100_000,
  refreshTokens: 5_000_000,
  revocations: 1_000_000,
  loginFailures: 100_000,
};

/** A family's tokens: the first ones spent by rotation, the last one live. */
export const TOKENS_PER_FAMILY = 5;
export const families = (s: ScaleSizes) => Math.floor(s.refreshTokens / TOKENS_PER_FAMILY);

// What a purge pass finds (a day past their end, the purge's keeping time): one family in twenty
// expired, one in twenty revoked, with all their tokens; the first spent token of one live family
// in four; one revocation in ten; three login failures in ten.
const EXPIRED_FAMILY = 'i % 20 = 0';
const REVOKED_FAMILY = 'i % 20 = 1';

export const scaleUser = (i: number) => `scale-user-${i}`;
export const scaleClient = (i: number) => `scale-client-${i}`;
export const scaleClientSecret = (i: number) => `scale-secret-${i}-0123456789abcdefghij`;
/** md5('scale-family-' || i)::uuid, as the SQL below names family i. */
export const scaleFamilyId = (i: number) => uuidFromHex(createHash('md5').update(`scale-family-${i}`).digest('hex'));
export const scaleRefreshToken = (family: number, k = TOKENS_PER_FAMILY - 1) =>
  formatRefreshToken(scaleFamilyId(family), k, createHash('sha256').update(`scale-refresh-${family}-${k}`).digest());
/** Whether family `i` is live (neither expired nor revoked): only those refresh. */
export const liveFamily = (i: number) => i % 20 !== 0 && i % 20 !== 1;
export const SCALE_USER_PASSWORD = 'scale bench password';

export interface BulkStep {
  table: string;
  sql: string;
}

/** Clients: confidential, client_credentials and password, allowed to introspect. */
export const clientsSql = (s: ScaleSizes): BulkStep => ({
  table: 'clients',
  sql: `insert into clients (client_id, name, secret_hash, grant_types, scopes, may_introspect)
        select 'scale-client-' || i, 'Scale client ' || i, sha256(convert_to('scale-secret-' || i || '-0123456789abcdefghij', 'UTF8')),
               '{client_credentials,password}', '{read,write}', true
        from generate_series(0, ${s.clients - 1}) i`,
});

/** Users by SQL, for tests (the bench imports them through `sigil users import`'s service). */
export const usersSql = (s: ScaleSizes, passwordHash: string): BulkStep => ({
  table: 'users',
  sql: `insert into users (username, password_hash) select 'scale-user-' || i, '${passwordHash.replaceAll("'", "''")}'
        from generate_series(0, ${s.users - 1}) i`,
});

/** Families: needs the users and clients. Family ids are derived from their number. */
export const familiesSql = (s: ScaleSizes): BulkStep => ({
  table: 'refresh_token_families',
  sql: `insert into refresh_token_families (id, client_id, user_id, scopes, auth_time, created_at, expires_at, revoked_at, revoked_reason)
        select md5('scale-family-' || i)::uuid, 'scale-client-' || (i % ${s.clients}), u.id, '{}',
               now() - interval '12 days', now() - interval '12 days',
               case when ${EXPIRED_FAMILY} then now() - interval '2 days' else now() + interval '18 days' end,
               case when ${REVOKED_FAMILY} then now() - interval '2 days' end,
               case when ${REVOKED_FAMILY} then 'revoked' end
        from generate_series(0, ${families(s) - 1}) i
        join users u on lower(u.username) = 'scale-user-' || (i % ${s.users})`,
});

/** Tokens: no foreign key (migration 006), so they load beside the users. Ordered by family, as rotations write them.
 * The hash is of scaleRefreshToken(i, k): family id, generation and secret, base64url without padding. */
export const refreshTokensSql = (s: ScaleSizes): BulkStep => ({
  table: 'refresh_tokens',
  sql: `insert into refresh_tokens (token_hash, family_id, generation, created_at, expires_at)
        select sha256(convert_to(rtrim(translate(encode(
                 decode(md5('scale-family-' || i), 'hex') || int4send(k) || sha256(convert_to('scale-refresh-' || i || '-' || k, 'UTF8')),
                 'base64'), '+/', '-_'), '='), 'UTF8')),
               md5('scale-family-' || i)::uuid, k,
               now() - interval '12 days' + k * interval '1 hour',
               case when ${EXPIRED_FAMILY} or (k = 0 and i % 4 = 2) then now() - interval '2 days' else now() + interval '1 day' end
        from generate_series(0, ${families(s) - 1}) i, generate_series(0, ${TOKENS_PER_FAMILY - 1}) k`,
});

export const revocationsSql = (s: ScaleSizes): BulkStep => ({
  table: 'revoked_access_tokens',
  sql: `insert into revoked_access_tokens (jti, client_id, expires_at, revoked_at)
        select 'scale-jti-' || i, 'scale-client-' || (i % ${s.clients}),
               case when i % 10 = 0 then now() - interval '2 days' else now() + interval '1 hour' end,
               now() - interval '10 minutes'
        from generate_series(0, ${s.revocations - 1}) i`,
});

/** One failure each, on the user's key, below any lock-out; three in ten older than the window. */
export const loginFailuresSql = (s: ScaleSizes): BulkStep => ({
  table: 'login_attempts',
  sql: `insert into login_attempts (key, failures, last_failure_at)
        select 'u:scale-user-' || (i * ${Math.max(1, Math.floor(s.users / s.loginFailures))}), 1,
               case when i % 10 < 3 then now() - interval '2 days' else now() - interval '1 minute' end
        from generate_series(0, ${s.loginFailures - 1}) i`,
});

/** The tables the dataset fills, as ANALYZE and the plan guards name them. */
export const SCALE_TABLES = ['users', 'clients', 'refresh_token_families', 'refresh_tokens', 'revoked_access_tokens', 'login_attempts'];

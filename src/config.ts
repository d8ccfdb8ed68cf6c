import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { config as readDotenv } from 'dotenv';
import { z } from 'zod';
import type { RefreshTokenSettings } from './tokens/refresh-tokens.js';
import type { LoginThrottleSettings } from './users/login-throttle.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** JWS algorithms Sigil signs access tokens with (asymmetric only: resource servers verify with the public key). */
export const SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/**
 * Key bytes that must never reach a log line or an error: JSON.stringify and util.inspect print
 * "[redacted]", and the bytes come out only through `reveal()`.
 */
export class Secret {
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  reveal(): Uint8Array {
    return this.#bytes;
  }
  toJSON() {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')]() {
    return '[redacted]';
  }
}

// A key-encryption key: 32 random bytes, base64 (standard or url-safe alphabet).
const decodeKey = (v: string) => Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
const isKey = (v: string) => /^[A-Za-z0-9+/_-]{43}=?$/.test(v) && decodeKey(v).length === 32;
const KEY_HINT = 'must be 32 random bytes, base64-encoded (generate one with `openssl rand -base64 32`)';
const encryptionKey = z.string().refine(isKey, KEY_HINT).transform((v) => new Secret(decodeKey(v)));
const encryptionKeyList = z
  .string()
  .transform((v) => v.split(/[\s,]+/).filter(Boolean))
  .refine((keys) => keys.every(isKey), `each key ${KEY_HINT}; separate keys with commas`)
  .transform((keys) => keys.map((k) => new Secret(decodeKey(k))));

// Variables whose value must not be echoed in an error message.
const SECRET_VARS = new Set(['SIGIL_KEY_ENCRYPTION_KEY', 'SIGIL_KEY_ENCRYPTION_KEYS_OLD', 'SIGIL_METRICS_TOKEN']);

// Every environment variable Sigil reads, with its default. `.env.example` mirrors this list.
const EnvSchema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  SIGIL_ISSUER: z
    .url({ protocol: /^https?$/ })
    .refine((u) => !u.includes('#') && !u.includes('?'), 'must not contain a query or fragment')
    // A path (https://host/tenant) is one the metadata URI and the routes can be derived from
    // (RFC 8414 §3.1): no empty, `.` or `..` segments, which URL parsers would rewrite.
    .refine((u) => !/^[a-z]+:\/\/[^/]*\/(?:.*\/)?(?:\.\.?)?(?:\/|$)/i.test(u.replace(/\/+$/, '')), 'must not have empty, "." or ".." path segments')
    .optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  SIGIL_DATA_DIR: z.string().min(1).default('./data'),
  SIGIL_DB_POOL_SIZE: int(1, 200).default(10),
  // Worker processes of `sigil serve` sharing one port (node:cluster); `auto`: one per CPU. PostgreSQL only.
  SIGIL_WORKERS: z.union([z.literal('auto'), int(1, 256)], { error: () => 'must be a whole number from 1 to 256, or auto' }).default(1),
  // Off behind a pooler that moves sessions between clients (PgBouncer in transaction mode before 1.21).
  SIGIL_DB_PREPARED_STATEMENTS: flag.default(true),
  SIGIL_DB_STATEMENT_TIMEOUT_MS: int(100, 600_000).default(10_000),
  SIGIL_DB_CONNECT_TIMEOUT_MS: int(100, 60_000).default(3000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  SIGIL_ARGON2_MEMORY_KIB: int(19456, 4_194_304).default(19456),
  SIGIL_ARGON2_TIME_COST: int(2, 100).default(2),
  SIGIL_ARGON2_PARALLELISM: int(1, 16).default(1),
  // Password hashes computed at once (each holds SIGIL_ARGON2_MEMORY_KIB); default: the number of CPUs.
  SIGIL_ARGON2_CONCURRENCY: int(1, 1024).optional(),
  SIGIL_CLIENT_SECRET_GRACE_HOURS: int(0, 24 * 365).default(24),
  // Clients kept in memory per instance (src/clients/client-cache.ts); 0: read the database on every request.
  SIGIL_CLIENT_CACHE_SIZE: int(0, 1_000_000).default(1000),
  // private_key_jwt: how far ahead of now a client assertion's exp may be (RFC 7523 §3: short-lived).
  SIGIL_CLIENT_ASSERTION_MAX_AGE_SECONDS: int(10, 3600).default(300),
  // Development only: accept and fetch http:// jwks_uri on loopback addresses (127.0.0.1, [::1], localhost).
  SIGIL_CLIENT_JWKS_ALLOW_HTTP_LOOPBACK: flag.default(false),
  SIGIL_DEMO: flag.default(true),
  // Tokens: the audience when neither the request nor the client names one (default: the issuer).
  SIGIL_DEFAULT_AUDIENCE: z.string().min(1).optional(),
  // Brute-force protection of the password grant (see src/users/login-throttle.ts).
  SIGIL_LOGIN_MAX_FAILURES_PER_ADDRESS: int(1, 1000).default(5),
  SIGIL_LOGIN_MAX_FAILURES_PER_USER: int(1, 100_000).default(20),
  SIGIL_LOGIN_LOCKOUT_BASE_SECONDS: int(1, 3600).default(1),
  SIGIL_LOGIN_LOCKOUT_MAX_SECONDS: int(1, 86400).default(900),
  SIGIL_LOGIN_FAILURE_WINDOW_SECONDS: int(60, 30 * 86400).default(3600),
  // Refresh tokens (password grant): idle and absolute lifetimes, optional retry grace window.
  SIGIL_REFRESH_TOKEN_IDLE_SECONDS: int(60, 365 * 86400).default(14 * 86400),
  SIGIL_REFRESH_TOKEN_ABSOLUTE_SECONDS: int(60, 5 * 365 * 86400).default(90 * 86400),
  SIGIL_REFRESH_TOKEN_GRACE_SECONDS: int(0, 300).default(0),
  // How often expired rows are purged (one instance at a time).
  SIGIL_PURGE_INTERVAL_SECONDS: int(10, 86400).default(3600),
  // Operations: overload shedding, rate limiting, proxies, CORS, metrics.
  SIGIL_MAX_EVENT_LOOP_DELAY_MS: int(0, 60_000).default(1000),
  SIGIL_RATE_LIMIT_PER_MINUTE: int(0, 10_000_000).default(1200),
  SIGIL_TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d+|[0-9a-fA-F:./]+(\s*,\s*[0-9a-fA-F:./]+)*)$/, 'must be true, false, a hop count, or addresses/CIDRs separated by commas')
    .default('false'),
  SIGIL_CORS_ORIGINS: z
    .string()
    .refine((v) => v.split(',').every((o) => /^https?:\/\/[^/\s]+$/.test(o.trim())), 'must be origins like https://app.example.com, separated by commas')
    .optional(),
  SIGIL_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // The admin API (/admin/v1): the audience its tokens must carry (default <issuer>/admin), and its own rate limit.
  SIGIL_ADMIN_AUDIENCE: z.string().min(1).optional(),
  SIGIL_ADMIN_RATE_LIMIT_PER_MINUTE: int(0, 10_000_000).default(600),
  // Access tokens and signing keys. The key settings are checked against each other in checkKeyTimings.
  SIGIL_ACCESS_TOKEN_TTL: int(1, 86400).default(600),
  SIGIL_SIGNING_ALG: z
    .enum(SIGNING_ALGS, { error: () => `must be one of ${SIGNING_ALGS.join(', ')}` })
    .default('ES256'),
  SIGIL_KEY_RSA_BITS: z.enum(['2048', '3072', '4096'], { error: () => 'must be 2048, 3072 or 4096' }).optional(),
  SIGIL_KEY_ROTATION_INTERVAL_SECONDS: int(3600, 365 * 86400).default(7 * 86400),
  SIGIL_KEY_LEAD_TIME_SECONDS: int(1, 30 * 86400).default(3600),
  SIGIL_KEY_RETENTION_SECONDS: int(1, 30 * 86400).optional(),
  SIGIL_JWKS_MAX_AGE_SECONDS: int(0, 86400).default(600),
  SIGIL_KEY_RELOAD_SECONDS: int(1, 3600).default(30),
  SIGIL_KEY_CLOCK_SKEW_SECONDS: int(0, 600).default(60),
  SIGIL_KEY_ENCRYPTION_KEY: encryptionKey.optional(),
  SIGIL_KEY_ENCRYPTION_KEYS_OLD: encryptionKeyList.optional(),
  // DPoP (RFC 9449): how old a proof may be (plus SIGIL_KEY_CLOCK_SKEW_SECONDS), and server nonces (§8).
  SIGIL_DPOP_PROOF_WINDOW_SECONDS: int(1, 3600).default(60),
  SIGIL_DPOP_NONCE: flag.default(false),
});

export type Env = z.input<typeof EnvSchema>;
/** Every variable Sigil reads (README's configuration tables and `.env.example` list each one). */
export const ENV_VARS = Object.keys(EnvSchema.shape);

export interface Config {
  port: number;
  host: string;
  issuer: string;
  /** Unset means the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  dbPoolSize: number;
  /** Worker processes `sigil serve` runs (each with its own pool of dbPoolSize connections). */
  workers: number;
  /** Prepare parameterized statements once per connection (PostgreSQL). */
  dbPreparedStatements: boolean;
  /** No request waits on PostgreSQL longer than about this (then 503 temporarily_unavailable). */
  dbStatementTimeoutMs: number;
  dbConnectTimeoutMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** argon2id parameters, and how many hashes may run at once (the rest wait their turn). */
  argon2: { memoryCost: number; timeCost: number; parallelism: number; concurrency: number };
  clientSecretGraceHours: number;
  /** Most clients cached in memory; changes reach every instance within about 2 s (0: no cache). */
  clientCacheSize: number;
  /** private_key_jwt client assertions (src/oauth/client-assertion.ts). */
  clientAssertions: ClientAssertionSettings;
  /** Create a demo client and user when the embedded database starts empty. */
  demo: boolean;
  defaultAudience: string;
  login: LoginThrottleSettings;
  refreshTokens: RefreshTokenSettings;
  purgeIntervalSeconds: number;
  /** 503 when the event loop lags more than this (0: off). */
  maxEventLoopDelayMs: number;
  /** Requests per minute per client address on /token, /introspect and /revoke (0: off). */
  rateLimitPerMinute: number;
  /** Fastify trustProxy: which proxies' X-Forwarded-For is believed for the client address. */
  trustProxy: boolean | number | string[];
  corsOrigins: string[];
  metricsToken: string | undefined;
  /** The audience admin API tokens must carry (default `<issuer>/admin`). */
  adminAudience: string;
  /** Requests per minute per client address on /admin/v1 (0: off). */
  adminRateLimitPerMinute: number;
  /**
   * Lifetime of access tokens in seconds, and the longest one Sigil issues: key retention is checked
   * against it, so a client's own TTL may shorten it but not exceed it (KeyService.sign refuses a
   * lifetime the retention does not cover).
   */
  accessTokenTtl: number;
  keys: KeyConfig;
  dpop: DpopConfig;
}

/** DPoP proofs at the token endpoint (RFC 9449). */
export interface DpopConfig {
  /** A proof's iat may be this many seconds old (plus the clock skew), and its jti is remembered as long. */
  proofWindowSeconds: number;
  /** Require a server nonce in every proof (§8); a nonce lasts one to two windows. */
  nonce: boolean;
}

export interface ClientAssertionSettings {
  /** The longest an assertion may still be valid when it arrives (its exp - now), seconds. */
  maxAgeSeconds: number;
  /** Accept and fetch http:// jwks_uri on loopback addresses (development and tests). */
  allowHttpLoopbackJwksUri: boolean;
}

/** Signing keys: algorithm, life-cycle timings (seconds) and the key-encryption keys. */
export interface KeyConfig {
  /** Algorithm of the next key created; existing keys keep theirs until they retire. */
  alg: SigningAlg;
  /** Modulus length of new RS256/PS256 keys. */
  rsaBits: 2048 | 3072 | 4096;
  /** How long a key signs before its successor takes over. */
  rotationIntervalSeconds: number;
  /** How long a new key is published before it signs: ≥ JWKS max-age + reload interval + clock skew. */
  leadTimeSeconds: number;
  /** How long a retired key stays published: ≥ access-token TTL + clock skew + reload interval. */
  retentionSeconds: number;
  /** Cache-Control max-age of the JWKS. */
  jwksMaxAgeSeconds: number;
  /** How often every instance reloads the key set and runs due rotation steps (the NOTIFY safety net). */
  reloadIntervalSeconds: number;
  /** Clock difference tolerated between instances, and between Sigil and resource servers. */
  clockSkewSeconds: number;
  /** AES-256-GCM key for private keys at rest; unset: the embedded default's generated file. */
  encryptionKey: Secret | undefined;
  /** Earlier key-encryption keys, still accepted for decryption and re-wrapped by `sigil keys rewrap`. */
  oldEncryptionKeys: Secret[];
}

/** A configuration problem, worded for the operator: one line, no stack trace. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseTrustProxy(v: string): boolean | number | string[] {
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').map((a) => a.trim());
}

function defaultIssuer(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** Parses the environment (empty values count as unset). Throws ConfigError naming the variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .map((k) => [k, env[k]?.trim()] as const)
      .filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    const got = SECRET_VARS.has(name) ? '' : ` (got ${JSON.stringify(present[name])})`;
    throw new ConfigError(`${name}: ${issue?.message ?? 'invalid'}${got}`);
  }
  const e = parsed.data;
  const keys = keyConfig(e);
  const workers = e.SIGIL_WORKERS === 'auto' ? availableParallelism() : e.SIGIL_WORKERS;
  // PGlite is one process's in-memory database: a second process cannot open the data folder.
  if (workers > 1 && !e.DATABASE_URL) {
    throw new ConfigError(`SIGIL_WORKERS=${workers} needs PostgreSQL (DATABASE_URL); the embedded database serves one process only`);
  }
  const issuer = (e.SIGIL_ISSUER ?? defaultIssuer(e.HOST, e.PORT)).replace(/\/+$/, '');
  return {
    port: e.PORT,
    host: e.HOST,
    issuer,
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.SIGIL_DATA_DIR),
    dbPoolSize: e.SIGIL_DB_POOL_SIZE,
    workers,
    dbPreparedStatements: e.SIGIL_DB_PREPARED_STATEMENTS,
    dbStatementTimeoutMs: e.SIGIL_DB_STATEMENT_TIMEOUT_MS,
    dbConnectTimeoutMs: e.SIGIL_DB_CONNECT_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    argon2: {
      memoryCost: e.SIGIL_ARGON2_MEMORY_KIB,
      timeCost: e.SIGIL_ARGON2_TIME_COST,
      parallelism: e.SIGIL_ARGON2_PARALLELISM,
      concurrency: e.SIGIL_ARGON2_CONCURRENCY ?? availableParallelism(),
    },
    clientSecretGraceHours: e.SIGIL_CLIENT_SECRET_GRACE_HOURS,
    clientCacheSize: e.SIGIL_CLIENT_CACHE_SIZE,
    clientAssertions: {
      maxAgeSeconds: e.SIGIL_CLIENT_ASSERTION_MAX_AGE_SECONDS,
      allowHttpLoopbackJwksUri: e.SIGIL_CLIENT_JWKS_ALLOW_HTTP_LOOPBACK,
    },
    demo: e.SIGIL_DEMO,
    defaultAudience: e.SIGIL_DEFAULT_AUDIENCE ?? issuer,
    login: {
      maxFailuresPerAddress: e.SIGIL_LOGIN_MAX_FAILURES_PER_ADDRESS,
      maxFailuresPerUser: e.SIGIL_LOGIN_MAX_FAILURES_PER_USER,
      baseLockoutSeconds: e.SIGIL_LOGIN_LOCKOUT_BASE_SECONDS,
      maxLockoutSeconds: e.SIGIL_LOGIN_LOCKOUT_MAX_SECONDS,
      failureWindowSeconds: e.SIGIL_LOGIN_FAILURE_WINDOW_SECONDS,
    },
    refreshTokens: {
      idleSeconds: e.SIGIL_REFRESH_TOKEN_IDLE_SECONDS,
      absoluteSeconds: e.SIGIL_REFRESH_TOKEN_ABSOLUTE_SECONDS,
      graceSeconds: e.SIGIL_REFRESH_TOKEN_GRACE_SECONDS,
    },
    purgeIntervalSeconds: e.SIGIL_PURGE_INTERVAL_SECONDS,
    maxEventLoopDelayMs: e.SIGIL_MAX_EVENT_LOOP_DELAY_MS,
    rateLimitPerMinute: e.SIGIL_RATE_LIMIT_PER_MINUTE,
    trustProxy: parseTrustProxy(e.SIGIL_TRUST_PROXY),
    corsOrigins: e.SIGIL_CORS_ORIGINS?.split(',').map((o) => o.trim()) ?? [],
    metricsToken: e.SIGIL_METRICS_TOKEN,
    adminAudience: e.SIGIL_ADMIN_AUDIENCE ?? `${issuer}/admin`,
    adminRateLimitPerMinute: e.SIGIL_ADMIN_RATE_LIMIT_PER_MINUTE,
    accessTokenTtl: e.SIGIL_ACCESS_TOKEN_TTL,
    keys,
    dpop: { proofWindowSeconds: e.SIGIL_DPOP_PROOF_WINDOW_SECONDS, nonce: e.SIGIL_DPOP_NONCE },
  };
}

function keyConfig(e: z.output<typeof EnvSchema>): KeyConfig {
  const rsa = e.SIGIL_SIGNING_ALG === 'RS256' || e.SIGIL_SIGNING_ALG === 'PS256';
  if (e.SIGIL_KEY_RSA_BITS !== undefined && !rsa) {
    throw new ConfigError(`SIGIL_KEY_RSA_BITS applies only to RS256 and PS256 (SIGIL_SIGNING_ALG is ${e.SIGIL_SIGNING_ALG})`);
  }
  const skew = e.SIGIL_KEY_CLOCK_SKEW_SECONDS;
  const reload = e.SIGIL_KEY_RELOAD_SECONDS;
  // Unset, retention follows the token lifetime, so raising SIGIL_ACCESS_TOKEN_TTL alone stays valid.
  const retention = e.SIGIL_KEY_RETENTION_SECONDS ?? Math.max(3600, e.SIGIL_ACCESS_TOKEN_TTL + skew + reload);
  const keys: KeyConfig = {
    alg: e.SIGIL_SIGNING_ALG,
    rsaBits: Number(e.SIGIL_KEY_RSA_BITS ?? 2048) as KeyConfig['rsaBits'],
    rotationIntervalSeconds: e.SIGIL_KEY_ROTATION_INTERVAL_SECONDS,
    leadTimeSeconds: e.SIGIL_KEY_LEAD_TIME_SECONDS,
    retentionSeconds: retention,
    jwksMaxAgeSeconds: e.SIGIL_JWKS_MAX_AGE_SECONDS,
    reloadIntervalSeconds: reload,
    clockSkewSeconds: skew,
    encryptionKey: e.SIGIL_KEY_ENCRYPTION_KEY,
    oldEncryptionKeys: e.SIGIL_KEY_ENCRYPTION_KEYS_OLD ?? [],
  };
  checkKeyTimings(keys, e.SIGIL_ACCESS_TOKEN_TTL);
  return keys;
}

/**
 * The rules that keep rotation invisible to resource servers:
 * - a new key signs only after every instance has published it (reload interval) and every
 *   cache that fetched the JWKS before that has expired (max-age), give or take clock skew;
 * - a retired key stays published until the last token it signed has expired, counting the
 *   reload interval during which another instance may still sign with it after an emergency rotation;
 * - the next key is created only after the current one has started signing.
 */
export function checkKeyTimings(k: KeyConfig, accessTokenTtl: number): void {
  const minLead = k.jwksMaxAgeSeconds + k.reloadIntervalSeconds + k.clockSkewSeconds;
  if (k.leadTimeSeconds < minLead) {
    throw new ConfigError(
      `SIGIL_KEY_LEAD_TIME_SECONDS (${k.leadTimeSeconds}) must be at least SIGIL_JWKS_MAX_AGE_SECONDS + SIGIL_KEY_RELOAD_SECONDS + SIGIL_KEY_CLOCK_SKEW_SECONDS (${minLead}): otherwise a resource server with a cached JWKS would see tokens from a key it has not fetched`,
    );
  }
  const minRetention = accessTokenTtl + k.clockSkewSeconds + k.reloadIntervalSeconds;
  if (k.retentionSeconds < minRetention) {
    throw new ConfigError(
      `SIGIL_KEY_RETENTION_SECONDS (${k.retentionSeconds}) must be at least SIGIL_ACCESS_TOKEN_TTL + SIGIL_KEY_CLOCK_SKEW_SECONDS + SIGIL_KEY_RELOAD_SECONDS (${minRetention}): otherwise a key would leave the JWKS while tokens it signed are still valid`,
    );
  }
  if (k.rotationIntervalSeconds <= k.leadTimeSeconds) {
    throw new ConfigError(
      `SIGIL_KEY_ROTATION_INTERVAL_SECONDS (${k.rotationIntervalSeconds}) must be longer than SIGIL_KEY_LEAD_TIME_SECONDS (${k.leadTimeSeconds})`,
    );
  }
}

/** The only reader of process.env: `.env` (when present) fills in what the environment leaves unset. */
export function loadConfig(): Config {
  readDotenv({ quiet: true });
  return parseConfig(process.env);
}

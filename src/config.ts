import { resolve } from 'node:path';
import { config as readDotenv } from 'dotenv';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// Every environment variable Sigil reads, with its default. `.env.example` mirrors this list.
const EnvSchema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  SIGIL_ISSUER: z
    .url({ protocol: /^https?$/ })
    .refine((u) => !u.includes('#') && !u.includes('?'), 'must not contain a query or fragment')
    .optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  SIGIL_DATA_DIR: z.string().min(1).default('./data'),
  SIGIL_DB_POOL_SIZE: int(1, 200).default(10),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  SIGIL_ARGON2_MEMORY_KIB: int(19456, 4_194_304).default(19456),
  SIGIL_ARGON2_TIME_COST: int(2, 100).default(2),
  SIGIL_ARGON2_PARALLELISM: int(1, 16).default(1),
  SIGIL_CLIENT_SECRET_GRACE_HOURS: int(0, 24 * 365).default(24),
  SIGIL_DEMO: flag.default(true),
});

export type Env = z.input<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  issuer: string;
  /** Unset means the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  dbPoolSize: number;
  logLevel: (typeof LOG_LEVELS)[number];
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  clientSecretGraceHours: number;
  /** Create a demo client and user when the embedded database starts empty. */
  demo: boolean;
}

/** A configuration problem, worded for the operator: one line, no stack trace. */
export class ConfigError extends Error {
  override name = 'ConfigError';
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
    throw new ConfigError(`${name}: ${issue?.message ?? 'invalid'} (got ${JSON.stringify(present[name])})`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    issuer: (e.SIGIL_ISSUER ?? defaultIssuer(e.HOST, e.PORT)).replace(/\/+$/, ''),
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.SIGIL_DATA_DIR),
    dbPoolSize: e.SIGIL_DB_POOL_SIZE,
    logLevel: e.LOG_LEVEL,
    argon2: {
      memoryCost: e.SIGIL_ARGON2_MEMORY_KIB,
      timeCost: e.SIGIL_ARGON2_TIME_COST,
      parallelism: e.SIGIL_ARGON2_PARALLELISM,
    },
    clientSecretGraceHours: e.SIGIL_CLIENT_SECRET_GRACE_HOURS,
    demo: e.SIGIL_DEMO,
  };
}

/** The only reader of process.env: `.env` (when present) fills in what the environment leaves unset. */
export function loadConfig(): Config {
  readDotenv({ quiet: true });
  return parseConfig(process.env);
}

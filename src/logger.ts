import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import { prettyLogStream } from './pretty-log.js';

// Everything that may carry a credential, wherever it appears in a log object.
const SECRET_FIELDS = [
  'password',
  'client_secret',
  'clientSecret',
  'refresh_token',
  'access_token',
  'token',
  'secret',
  'privateKey',
  'private_jwk',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  // Node's HTTP parser errors carry the request's raw bytes (Authorization, body); Fastify logs
  // them at trace as a client error.
  'err.rawPacket',
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `body.${f}`, `req.body.${f}`]),
];

/** How log lines are written: `pretty` for a person at a terminal, `json` (one object a line) for the rest. */
export type LogFormat = 'pretty' | 'json';

/** Pretty lines only when stdout is a terminal; piped, redirected or in a container, JSON lines. */
export function logFormatFor(stdout: { isTTY?: boolean }): LogFormat {
  return stdout.isTTY === true ? 'pretty' : 'json';
}

export function loggerOptions(level: string, format: LogFormat = 'json'): FastifyServerOptions['logger'] {
  if (level === 'silent') return false;
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  // Redaction happens in pino, before the stream: the pretty lines are as free of secrets.
  return format === 'pretty' ? { ...options, stream: prettyLogStream(process.stdout.hasColors?.() ?? false) } : options;
}

type Bindings = Record<string, unknown>;
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1];
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's logger, made into a real pino child only when something logs through it. Most
 * requests log nothing below info, and a pino child costs microseconds per request (its bindings
 * go through the redaction above): a measurable share of a JWKS reply.
 */
class LazyChildLogger {
  #child: FastifyBaseLogger | undefined;
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildOptions;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #real(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  #log(level: Level, args: unknown[]): void {
    const real = this.#real() as unknown as Record<Level, (...args: unknown[]) => void>;
    real[level].apply(real, args);
  }

  get level(): string {
    return this.#real().level;
  }
  set level(level: string) {
    this.#real().level = level;
  }
  isLevelEnabled(level: string): boolean {
    return (this.#real() as unknown as { isLevelEnabled(level: string): boolean }).isLevelEnabled(level);
  }
  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
  fatal(...args: unknown[]) {
    this.#log('fatal', args);
  }
  error(...args: unknown[]) {
    this.#log('error', args);
  }
  warn(...args: unknown[]) {
    this.#log('warn', args);
  }
  info(...args: unknown[]) {
    this.#log('info', args);
  }
  debug(...args: unknown[]) {
    this.#log('debug', args);
  }
  trace(...args: unknown[]) {
    this.#log('trace', args);
  }
  silent() {}
}

/** Fastify's childLoggerFactory: see LazyChildLogger. */
export const lazyChildLogger: Parameters<FastifyInstance['setChildLoggerFactory']>[0] = (parent, bindings, options) =>
  new LazyChildLogger(parent, bindings, options) as unknown as FastifyBaseLogger;

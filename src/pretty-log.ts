import { createRequire } from 'node:module';
import type { PrettyStream } from 'pino-pretty';

// pino's own fields, shown by pino-pretty in the line's prefix (time, level) or not at all.
const PREFIX_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'err']);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return String(value);
}

/** `key=value` pairs, one level of nesting flattened (`audit.event=login_failed`). */
function fields(entries: [string, unknown][], prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && prefix === '') {
      out.push(...fields(Object.entries(value), `${key}.`));
    } else {
      out.push(`${prefix}${key}=${Array.isArray(value) ? value.map(formatValue).join(',') : formatValue(value)}`);
    }
  }
  return out;
}

/**
 * One log object as one line for a person: the message, then its fields as key=value (the request
 * line reads `request method=POST path=/token status=200 ms=3.1 client_id=demo`). An error adds
 * its message and, on the lines below, its stack.
 */
export function formatLogLine(log: Record<string, unknown>): string {
  const line = [String(log.msg ?? ''), ...fields(Object.entries(log).filter(([k]) => !PREFIX_FIELDS.has(k)))];
  const err = log.err as { message?: unknown; stack?: unknown } | undefined;
  if (err && typeof err === 'object') {
    line.push(`err=${formatValue(String(err.message ?? ''))}`);
    if (typeof err.stack === 'string') return `${line.join(' ')}\n${err.stack}`;
  }
  return line.join(' ');
}

/**
 * pino-pretty writing to stdout, synchronously, so that log lines and the first-run banner
 * (written straight to stdout) come out in the order they happen. Loaded only for a terminal:
 * piped or in a container, Sigil writes pino's JSON lines and never loads it.
 */
export function prettyLogStream(colorize: boolean): PrettyStream {
  const require = createRequire(import.meta.url);
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    colorize,
    sync: true,
    destination: 1,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
    hideObject: true,
    messageFormat: (log) => formatLogLine(log),
  });
}

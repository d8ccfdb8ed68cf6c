// The whole suite's logs are scanned for every secret the suite used: test apps log at trace
// level into this run's folder, the helpers record each secret they create or receive, and
// test/helpers/after.ts fails the run if any secret appears in any log line.
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { runId } from './template.js';

const runDir = (run = runId()) => join(tmpdir(), `sigil-test-${run}`);
// Shorter strings (test passwords like "pw") would match by accident.
const MIN_LENGTH = 8;

/** Whether a text holds the secret as sent, or as a JSON log line escapes it. */
export function containsSecret(text: string, secret: string): boolean {
  return text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1));
}

export function recordSecret(...secrets: (string | undefined)[]): void {
  const dir = join(runDir(), 'secrets');
  mkdirSync(dir, { recursive: true });
  const lines = secrets.filter((s): s is string => typeof s === 'string' && s.length >= MIN_LENGTH);
  if (lines.length) appendFileSync(join(dir, `${process.pid}.jsonl`), lines.map((s) => `${JSON.stringify(s)}\n`).join(''));
}

let stream: Writable | undefined;
/** One log file per test process. */
export function suiteLogStream(): Writable {
  if (!stream) {
    const dir = join(runDir(), 'logs');
    mkdirSync(dir, { recursive: true });
    stream = createWriteStream(join(dir, `${process.pid}.log`), { flags: 'a' });
  }
  return stream;
}

/** Every recorded secret found in a log of the run, or an empty list. */
export function findLeakedSecrets(run: string): { secret: string; file: string }[] {
  const read = (sub: string) => {
    const dir = join(runDir(run), sub);
    return existsSync(dir) ? readdirSync(dir).map((f) => ({ file: f, text: readFileSync(join(dir, f), 'utf8') })) : [];
  };
  const secrets = new Set(
    read('secrets').flatMap(({ text }) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as string)),
  );
  const logs = read('logs');
  const leaks: { secret: string; file: string }[] = [];
  for (const secret of secrets) {
    for (const { file, text } of logs) if (containsSecret(text, secret)) leaks.push({ secret, file });
  }
  return leaks;
}

export function scanSummary(run: string): { secrets: number; logBytes: number } {
  const count = (sub: string, f: (text: string) => number) => {
    const dir = join(runDir(run), sub);
    return existsSync(dir) ? readdirSync(dir).reduce((n, file) => n + f(readFileSync(join(dir, file), 'utf8')), 0) : 0;
  };
  return { secrets: count('secrets', (t) => t.split('\n').filter(Boolean).length), logBytes: count('logs', (t) => t.length) };
}

import { Writable } from 'node:stream';
import { loggerOptions } from '../../src/logger.js';
import { containsSecret, suiteLogStream } from './secret-scan.js';

/**
 * An app logger at trace level whose lines a test can read as they come, and which still go to
 * the run's log folder for test/helpers/after.ts. A test that sends secrets in odd shapes checks
 * its own lines, so a leak fails at the request that caused it, not at the end of the whole run.
 */
export function captureLog() {
  const lines: string[] = [];
  let read = 0;
  const stream = new Writable({
    write(chunk, _enc, done) {
      const line = String(chunk);
      lines.push(line);
      suiteLogStream().write(line);
      // At once, not when the file has it: a Writable holds back later lines until then.
      done();
    },
  });
  return {
    logger: { ...(loggerOptions('trace') as object), stream },
    /** Everything logged so far. */
    text: () => lines.join(''),
    /** What was logged since the last call. */
    fresh: () => {
      const text = lines.slice(read).join('');
      read = lines.length;
      return text;
    },
  };
}

/** The first of the secrets found in a log text, or undefined. */
export function leakedSecret(text: string, secrets: readonly string[]): string | undefined {
  return secrets.find((s) => containsSecret(text, s));
}

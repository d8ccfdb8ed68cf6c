import type { Readable } from 'node:stream';

export type Line = { number: number; text: string } | { number: number; tooLong: true };

const NEWLINE = 0x0a;

/**
 * The lines of a stream, numbered from 1, in constant memory. Unlike node:readline, a line longer
 * than `maxBytes` is not buffered: its bytes are dropped as they come and it is reported as too
 * long, so a file without newlines cannot exhaust memory. Lines are split on bytes and decoded
 * whole, so a UTF-8 character cut by a chunk boundary stays intact. A trailing \r is dropped.
 */
export async function* readLines(input: Readable, maxBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 0;
  const take = (): Line => {
    number++;
    if (tooLong) {
      tooLong = false;
      return { number, tooLong: true };
    }
    let text = Buffer.concat(parts, size).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return { number, text };
  };
  const append = (b: Buffer) => {
    if (tooLong) return;
    if (size + b.length > maxBytes) {
      tooLong = true;
      parts = [];
      size = 0;
      return;
    }
    parts.push(b);
    size += b.length;
  };
  for await (const chunk of input) {
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(NEWLINE, start); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
      append(buf.subarray(start, nl));
      yield take();
      parts = [];
      size = 0;
      start = nl + 1;
    }
    // Copied: a subarray would keep the whole chunk alive.
    if (start < buf.length) append(Buffer.from(buf.subarray(start)));
  }
  if (size > 0 || tooLong) yield take();
}

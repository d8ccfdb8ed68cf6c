import type { Readable } from 'node:stream';

export type Line = { number: number; text: string } | { number: number; tooLong: true };

const NEWLINE = 0x0a;
const CR = '\r';

/**
 * The lines of a stream, numbered from 1, in constant memory, handed out a chunk's worth at a
 * time (one await per chunk rather than per line: at hundreds of thousands of lines a second the
 * per-line promise was a visible share of an import's CPU). Unlike node:readline, a line longer
 * than `maxBytes` is not buffered: its bytes are dropped as they come and it is reported as too
 * long, so a file without newlines cannot exhaust memory. Lines are split on bytes and decoded
 * whole, so a UTF-8 character cut by a chunk boundary stays intact. A trailing \r is dropped.
 */
export async function* readLineBatches(input: Readable, maxBytes: number): AsyncGenerator<Line[]> {
  // The start of a line that a chunk boundary cut, kept until its newline comes.
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 0;
  const line = (text: string): Line => ({ number: ++number, text: text.endsWith(CR) ? text.slice(0, -1) : text });
  const take = (): Line => {
    if (tooLong) {
      tooLong = false;
      return { number: ++number, tooLong: true };
    }
    const text = Buffer.concat(parts, size).toString('utf8');
    parts = [];
    size = 0;
    return line(text);
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
    const lines: Line[] = [];
    let start = 0;
    for (let nl = buf.indexOf(NEWLINE, start); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
      if (size === 0 && !tooLong) {
        // The whole line is in this chunk: decoded in place, no copy.
        lines.push(nl - start > maxBytes ? { number: ++number, tooLong: true } : line(buf.toString('utf8', start, nl)));
      } else {
        append(buf.subarray(start, nl));
        lines.push(take());
      }
      start = nl + 1;
    }
    // Copied: a subarray would keep the whole chunk alive.
    if (start < buf.length) append(Buffer.from(buf.subarray(start)));
    if (lines.length > 0) yield lines;
  }
  if (size > 0 || tooLong) yield [take()];
}

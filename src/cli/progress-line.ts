/** A progress line redrawn in place on a terminal (stderr), and nothing at all when it is not one. */
export interface ProgressLine {
  update(lines: number, bytes?: number): void;
  /** A message of its own line, above the progress line. */
  note(message: string): void;
  done(): void;
}

const REDRAW_MS = 250;

export function createProgressLine(
  out: NodeJS.WritableStream & { isTTY?: boolean },
  totalBytes: number | undefined,
  now: () => number = () => performance.now(),
): ProgressLine {
  const tty = Boolean(out.isTTY);
  const start = now();
  let last = 0;
  let shown = '';
  const clear = () => {
    if (shown) out.write('\r\x1b[K');
    shown = '';
  };
  return {
    update(lines, bytes) {
      if (!tty) return;
      const t = now();
      if (t - last < REDRAW_MS) return;
      last = t;
      const seconds = (t - start) / 1000;
      const rate = seconds > 0 ? Math.round(lines / seconds) : 0;
      let text = `${lines.toLocaleString('en')} lines, ${rate.toLocaleString('en')}/s`;
      if (totalBytes && bytes && bytes > 0) {
        const fraction = Math.min(1, bytes / totalBytes);
        const eta = fraction > 0 ? Math.round((seconds / fraction) * (1 - fraction)) : 0;
        text += `, ${Math.floor(fraction * 100)}%, ETA ${eta}s`;
      }
      clear();
      out.write(text);
      shown = text;
    },
    note(message) {
      clear();
      out.write(`${message}\n`);
    },
    done() {
      clear();
    },
  };
}

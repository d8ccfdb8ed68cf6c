/** Where a command writes: human text by default, one JSON document with --json. */
export interface Output {
  json: boolean;
  print(human: string, json: unknown): void;
}

export function createOutput(json: boolean, write: (s: string) => void = (s) => process.stdout.write(s)): Output {
  return {
    json,
    print(human, data) {
      write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
    },
  };
}

/** Left-aligned columns for list commands. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

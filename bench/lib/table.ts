// A plain-text table for the terminal (and for pasting into docs/benchmarks.md as is).

export interface Column {
  title: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
}

export function renderTable(columns: Column[], rows: (string[] | 'separator')[]): string {
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...rows.map((r) => (r === 'separator' ? 0 : (r[i] ?? '').length))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        return columns[i]?.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(columns.map((c) => c.title)), rule, ...rows.map((r) => (r === 'separator' ? rule : line(r)))].join('\n');
}

/** A number for a table cell: `digits` decimals below 100, none above (noise is bigger than that). */
export function num(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value >= 100 ? Math.round(value).toString() : value.toFixed(digits);
}

import { Option } from 'commander';

/** A repeatable option's values. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];
/** A repeatable option of space-separated words (`--scope "a b" --scope c`). */
export const collectWords = (value: string, previous: string[] = []) => [...previous, ...value.split(/\s+/).filter(Boolean)];

export const jsonOption = () => new Option('--json', 'print JSON for scripts');

/** Applies --add-x / --remove-x to a list (case-insensitively when `fold`), keeping its order. */
export function edited(current: string[], add: string[] = [], remove: string[] = [], fold = false): string[] {
  const key = (s: string) => (fold ? s.toLowerCase() : s);
  const gone = new Set(remove.map(key));
  const kept = current.filter((s) => !gone.has(key(s)));
  for (const s of add) if (!gone.has(key(s)) && !kept.some((k) => key(k) === key(s))) kept.push(s);
  return kept;
}

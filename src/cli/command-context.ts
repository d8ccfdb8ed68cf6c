import type { Store } from './store.js';

/**
 * What every `sigil` command gets from the program (main.ts): a way to the services and to the
 * terminal. In a module of its own, so the commands need not import main.ts, which imports them.
 */
export interface CommandContext {
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  write(s: string): void;
}

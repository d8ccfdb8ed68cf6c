import type { Readable } from 'node:stream';
import type { Store } from './store.js';

/** The terminal a command runs in: the process's own, or (in tests) streams held in memory. */
export interface CliIo {
  /** Piped input: `--password-stdin`, `users import --file -`. */
  stdin: Readable & { isTTY?: boolean };
  stdout: { write(s: string): unknown };
  /** Errors, and the import's progress line when it is a terminal. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * What every `sigil` command gets from the program (main.ts): a way to the services and to the
 * terminal. In a module of its own, so the commands need not import main.ts, which imports them.
 */
export interface CommandContext {
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  write(s: string): void;
  io: CliIo;
  /** For a command that printed its result and still failed (an import with rejected lines). */
  setExitCode(code: number): void;
}

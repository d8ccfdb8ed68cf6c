import { type ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { childEnv, SIGIL_BIN } from './cli.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** Resolves with the output once it matches `re` (the welcome text follows the listen line). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `sigil serve` on a free port and waits until it listens. */
export function startServerProcess(t: Teardown, env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SIGIL_BIN, 'serve'], {
    env: childEnv({ PORT: '0', LOG_LEVEL: 'info', ...env }),
    cwd: tmpdir(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    return exited;
  };
  const waitFor = async (re: RegExp, timeoutMs = 10_000) => {
    for (const start = Date.now(); !re.test(out); ) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${re} in:\n${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return out;
  };
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) resolve({ url: m[1], child, output: () => out, waitFor, stop });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    exited.then((code) => reject(new Error(`sigil serve exited with ${code} before listening:\n${out}`)));
  });
}

// Child processes of the bench: servers under test (Sigil and the ceilings) and one-shot CLI runs.
// Each server is its own process so that its CPU and memory are its own, as in production.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const STDERR_TAIL_BYTES = 4096;

export interface Server {
  name: string;
  pid: number;
  url: string;
  /** SIGTERM, then SIGKILL when it has not exited after a few seconds. */
  stop(): Promise<void>;
}

interface Child {
  process: ChildProcess;
  pid: number;
  /** The last few KB of stderr, to explain a failure. */
  stderr(): string;
  exited: Promise<number | null>;
}

function start(command: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd: string }): Child {
  const child = spawn(command, args, { env: o.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${command} ${args.join(' ')}`);
  let tail = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { process: child, pid: child.pid, stderr: () => tail, exited };
}

async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const killed = await Promise.race([child.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!killed) {
    child.process.kill('SIGKILL');
    await child.exited;
  }
}

const failure = (name: string, why: string, child: Child) =>
  new Error(`${name} ${why}${child.stderr() ? `; its stderr ends with:\n${child.stderr().trim()}` : ''}`);

/** A TCP port nobody listens on right now (Sigil needs it up front: its issuer URL contains it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no TCP port available');
  return address.port;
}

const CLUSTER = fileURLToPath(new URL('../ceilings/cluster.ts', import.meta.url));

/**
 * Starts a ceiling (a TypeScript file run through tsx), in `workers` processes sharing its port
 * through node:cluster when more than one, and waits for its `{"port":N}` line.
 */
export async function startCeiling(name: string, script: string, o: { env: NodeJS.ProcessEnv; cwd: string; workers: number; nodeArgs?: string[] }): Promise<Server> {
  const args = o.workers > 1 ? [CLUSTER, String(o.workers), script] : [script];
  const child = start(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', ...args], o);
  const lines = createInterface({ input: child.process.stdout ?? process.stdin });
  const announced = (async () => {
    for await (const line of lines) {
      const port = /^\{"port":(\d+)\}$/.exec(line.trim())?.[1];
      if (port !== undefined) return Number(port);
    }
    return undefined;
  })();
  const port = await Promise.race([announced, child.exited.then(() => undefined), sleep(30_000).then(() => undefined)]);
  lines.close();
  if (port === undefined) {
    await stopChild(child);
    throw failure(name, 'did not start', child);
  }
  return { name, pid: child.pid, url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

/** Starts a long-running server and waits until `readyUrl` answers 200. */
export async function startServer(
  name: string,
  command: string,
  args: string[],
  o: { env: NodeJS.ProcessEnv; cwd: string; url: string; readyPath: string },
): Promise<Server> {
  const child = start(command, args, o);
  const deadline = Date.now() + 60_000;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => {
    exitCode = code;
  });
  for (;;) {
    if (exitCode !== undefined) throw failure(name, `exited with code ${exitCode} while starting`, child);
    if (Date.now() > deadline) {
      await stopChild(child);
      throw failure(name, 'did not become ready within 60 s', child);
    }
    const ready = await fetch(o.url + o.readyPath).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { name, pid: child.pid, url: o.url, stop: () => stopChild(child) };
    await sleep(100);
  }
}

/** Runs a command to completion and returns its stdout; a non-zero exit is an error naming stderr. */
export async function runToCompletion(
  command: string,
  args: string[],
  o: { env: NodeJS.ProcessEnv; cwd: string; input?: string },
): Promise<string> {
  const child = spawn(command, args, { env: o.env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  child.stdin.end(o.input ?? '');
  // 'close', not 'exit': by then stdout has been read to its end.
  const [code] = (await once(child, 'close')) as [number | null];
  // Some tools (tsc) report on stdout.
  if (code !== 0) throw new Error(`${args.join(' ')} failed (exit ${code}): ${(stderr.trim() || stdout.trim()).slice(-STDERR_TAIL_BYTES)}`);
  return stdout;
}

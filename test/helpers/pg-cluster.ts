import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const run = promisify(execFile);

interface Teardown {
  teardown(fn: () => unknown): void;
}

function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort().at(-1);
  return version ? join(root, version, 'bin') : undefined;
}

/** Why a throwaway cluster cannot be made here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  if (!pgBin()) return 'no PostgreSQL server binaries under /usr/lib/postgresql';
  if (process.getuid?.() !== 0) return 'initdb needs to run as the postgres user (via runuser, as root)';
  return undefined;
}


export interface ThrowawayCluster {
  url: string;
  start(): Promise<void>;
  /** Like a crash or a failover: immediate shutdown, connections cut. */
  stop(): Promise<void>;
}

/** A PostgreSQL cluster of this test's own (initdb + pg_ctl on a free port), removed at teardown. */
export async function startThrowawayCluster(t: Teardown): Promise<ThrowawayCluster> {
  const bin = pgBin() as string;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-pg-'));
  const { stdout: ids } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  chownSync(dir, Number(ids.trim()), Number(gid.trim()));
  const data = join(dir, 'data');
  const asPostgres = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]);
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  };
  const stop = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  };
  t.teardown(async () => {
    await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, start, stop };
}

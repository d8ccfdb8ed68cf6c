import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { createPostgresDatabase, type Database, wrapPglite } from './database.js';

// PGlite is one process's database. The process that owns the data folder (the server, or the CLI
// when no server runs) holds a lock file; a running server shares its database with the CLI over
// a unix socket in the same folder, so `sigil …` works beside `npm start`.
const LOCK_FILE = 'sigil.lock';
const SOCKET_PORT = 5432;
const socketPath = (dataDir: string) => join(dataDir, `.s.PGSQL.${SOCKET_PORT}`);

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function acquireLock(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new DataDirInUseError(`the embedded database in ${dataDir} is in use by process ${holder}`);
      }
      rmSync(path, { force: true }); // left behind by a process that died
    }
  }
  throw new DataDirInUseError(`could not lock the embedded database in ${dataDir}`);
}

/** Opens (creating on first use) the PGlite database in `dataDir`, holding the data folder's lock. */
export async function openEmbeddedDatabase(dataDir: string): Promise<Database & { pglite: PGlite }> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const release = acquireLock(dataDir);
  try {
    // Loaded on first use: a server on PostgreSQL never pays for the WASM build's module.
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create({ dataDir: join(dataDir, 'pglite') });
    return wrapPglite(pglite, async () => {
      await pglite.close();
      release();
    });
  } catch (err) {
    release();
    throw err;
  }
}

/** Lets other local processes (the CLI) reach this process's PGlite through a unix socket. */
export async function shareEmbeddedDatabase(pglite: PGlite, dataDir: string): Promise<() => Promise<void>> {
  const path = socketPath(dataDir);
  rmSync(path, { force: true }); // ours: we hold the data folder's lock
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const server = new PGLiteSocketServer({ db: pglite, path, maxConnections: 8 });
  await server.start();
  return async () => {
    await server.stop();
    rmSync(path, { force: true });
  };
}

/** A connection to the running server's embedded database, or undefined when no server runs. */
export async function connectToRunningServer(dataDir: string): Promise<Database | undefined> {
  const client = new pg.Client({ host: dataDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres' });
  try {
    await client.connect();
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
  return createPostgresDatabase(undefined, {
    poolSize: 1,
    // Every connection to the socket shares the server's one session: names would collide.
    preparedStatements: false,
    connection: { host: dataDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres' },
  });
}

import cluster, { type Worker } from 'node:cluster';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { openServerDatabase } from './db/open.js';
import { latestMigrationVersion, migrate } from './db/migrate.js';
import { loadKeyEncryptionKeys } from './keys/key-encryption-key.js';
import { deriveDpopNonceKey } from './oauth/dpop/dpop-nonce.js';
import { createKeyService, type ManagedKeyService } from './keys/key-service.js';
import { createDemoIfEmpty, welcomeText } from './first-run.js';
import { logFormatFor, loggerOptions } from './logger.js';
import { keyEventLog } from './ops/audit.js';
import { createHousekeeping, sigilPurgeTasks } from './ops/housekeeping.js';
import { clusterMetricsText, serveClusterMetrics } from './ops/cluster-metrics.js';
import { createMetrics } from './ops/metrics.js';
import { createPasswordHasher } from './users/passwords.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where the welcome text goes (undefined: not printed, as in a cluster worker). */
  print?: ((text: string) => void) | undefined;
  /** False in a cluster worker: the primary migrated once before forking. */
  migrate?: boolean;
}

const toStdout = (text: string) => process.stdout.write(text);

/** config → database → migrations → keys → app → listen. The only place that starts things. */
export async function startServer(config: Config, options: StartOptions = { print: toStdout }): Promise<RunningServer> {
  const { print, migrate: migrating = true } = options;
  // First, before the database opens: a missing key-encryption key is a one-line refusal.
  const encryptionKeys = loadKeyEncryptionKeys(config);
  const db = await openServerDatabase(config);
  let keys: ManagedKeyService | undefined;
  try {
    if (migrating) await migrate(db);
    // The demo exists for the one-command quick start; a PostgreSQL deployment never gets one.
    const demo =
      config.demo && !config.databaseUrl ? await createDemoIfEmpty(db, createPasswordHasher(config.argon2)) : undefined;
    keys = createKeyService({ db, config, encryptionKeys });
    const loadedKeys = keys;
    const metrics = createMetrics({ db, signingKey: () => loadedKeys.signingKey(), now: () => new Date() });
    if (cluster.isWorker) metrics.render = clusterMetricsText(metrics.registry);
    const app = await buildApp({
      config,
      db,
      keys,
      metrics,
      migrationVersion: latestMigrationVersion(),
      logger: loggerOptions(config.logLevel, logFormatFor(process.stdout)),
      dpopNonceKey: deriveDpopNonceKey(encryptionKeys.current.key),
    });
    // Keys loaded (the first one created on first start), LISTEN and the rotation timer running
    // before the first request can arrive.
    await keys.start({ log: keyEventLog(app.log, metrics) });
    const housekeeping = createHousekeeping(db, sigilPurgeTasks(db, config, () => new Date()));
    housekeeping.start(config.purgeIntervalSeconds, (err) => app.log.warn({ err }, 'housekeeping failed'));
    const url = await app.listen({ port: config.port, host: config.host });
    // Straight to the terminal, never to the log: the demo secrets are shown this once.
    print?.(welcomeText(url, demo));
    let closing: Promise<void> | undefined;
    return {
      url,
      close: () => {
        closing ??= (async () => {
          await housekeeping.stop();
          await app.close();
          await keys?.stop();
          await db.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await keys?.stop().catch(() => {});
    await db.close().catch(() => {});
    throw err;
  }
}

/** Closes the server on SIGINT/SIGTERM; a second signal exits at once. */
export function closeOnSignals(server: RunningServer, log: (msg: string) => void = console.error) {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log(`${signal} received: finishing requests in flight and closing`);
    server.close().then(
      () => process.exit(0),
      (err: Error) => {
        log(`error while closing: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
}

/**
 * `sigil serve`: one process, or with SIGIL_WORKERS > 1 a node:cluster primary and its workers.
 * A forked worker runs this same command again, so this is also where a worker starts.
 */
export async function serve(config: Config): Promise<void> {
  if (config.workers <= 1) {
    closeOnSignals(await startServer(config));
  } else if (cluster.isPrimary) {
    await runPrimary(config);
  } else {
    await runWorker(config);
  }
}

const STOP_MESSAGE = 'sigil:stop';

/** A worker: the server without migrations or welcome text; the primary, or a signal, stops it. */
async function runWorker(config: Config): Promise<void> {
  const server = await startServer(config, { migrate: false, print: undefined });
  let stopping = false;
  // Ctrl-C reaches the whole process group and the primary forwards it too: the first of them
  // starts the graceful close, the rest change nothing (a second Ctrl-C makes the primary kill us).
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (err: Error) => {
        console.error(`worker ${process.pid}: error while closing: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  process.on('message', (m: unknown) => {
    if (m === STOP_MESSAGE) stop();
  });
  // The primary is gone (killed without a chance to stop us): no orphan keeps the port.
  process.on('disconnect', stop);
}

/** Restart delays after a worker dies young: 0.1 s doubling to 10 s, so a crash loop cannot spin. */
export function restartDelayMs(quickDeaths: number): number {
  return quickDeaths === 0 ? 0 : Math.min(10_000, 100 * 2 ** (quickDeaths - 1));
}
const YOUNG_MS = 10_000;

/**
 * The primary: migrates and loads the keys once (a wrong key-encryption key or a failed migration
 * stops here, before any worker), forks the workers, replaces one that dies, prints the welcome
 * text once, sums /metrics for the workers, and on SIGTERM/SIGINT stops them all gracefully.
 * Every timer runs in the workers and is safe many times over: key rotation steps take an advisory
 * lock, housekeeping a try-lock, and the key and client reload checks only read.
 */
async function runPrimary(config: Config, log: (msg: string) => void = console.error): Promise<void> {
  const encryptionKeys = loadKeyEncryptionKeys(config);
  const db = await openServerDatabase(config);
  try {
    await migrate(db);
    const keys = createKeyService({ db, config, encryptionKeys });
    await keys.load(); // the very first key is created here, once, not raced by the workers
    await keys.stop();
  } finally {
    await db.close();
  }
  serveClusterMetrics();

  let stopping = false;
  let stopFailed = false;
  let listened = false;
  let quickDeaths = 0;
  const started = new Map<Worker, number>();
  const fork = () => started.set(cluster.fork(), Date.now());

  cluster.on('listening', (_worker, address) => {
    if (listened) return;
    listened = true;
    const host = address.address?.includes(':') ? `[${address.address}]` : (address.address ?? config.host);
    process.stdout.write(welcomeText(`http://${host}:${address.port}`, undefined));
  });
  cluster.on('exit', (worker, code, signal) => {
    const age = Date.now() - (started.get(worker) ?? 0);
    started.delete(worker);
    if (stopping) {
      if (code !== 0) stopFailed = true;
      if (started.size === 0) process.exit(stopFailed ? 1 : 0);
      return;
    }
    if (!listened) {
      // Not one worker came up (port taken, database unreachable): the worker said why on stderr.
      log(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before any worker listened; stopping`);
      stopping = true;
      for (const w of started.keys()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    quickDeaths = age < YOUNG_MS ? quickDeaths + 1 : 0;
    const delay = restartDelayMs(quickDeaths);
    log(`worker ${worker.process.pid} died (${signal ?? `code ${code}`}); starting another in ${delay} ms`);
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: killing the workers`);
      for (const w of started.keys()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    log(`${signal} received: the workers finish requests in flight and close`);
    if (started.size === 0) process.exit(0);
    for (const w of started.keys()) if (w.isConnected()) w.send(STOP_MESSAGE);
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  for (let i = 0; i < config.workers; i++) fork();
}

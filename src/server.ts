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
import { createMetrics } from './ops/metrics.js';
import { createPasswordHasher } from './users/passwords.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** config → database → migrations → keys → app → listen. The only place that starts things. */
export async function startServer(
  config: Config,
  print: (text: string) => void = (text) => process.stdout.write(text),
): Promise<RunningServer> {
  // First, before the database opens: a missing key-encryption key is a one-line refusal.
  const encryptionKeys = loadKeyEncryptionKeys(config);
  const db = await openServerDatabase(config);
  let keys: ManagedKeyService | undefined;
  try {
    await migrate(db);
    // The demo exists for the one-command quick start; a PostgreSQL deployment never gets one.
    const demo =
      config.demo && !config.databaseUrl ? await createDemoIfEmpty(db, createPasswordHasher(config.argon2)) : undefined;
    keys = createKeyService({ db, config, encryptionKeys });
    const loadedKeys = keys;
    const metrics = createMetrics({ db, signingKey: () => loadedKeys.signingKey(), now: () => new Date() });
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
    print(welcomeText(url, demo));
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

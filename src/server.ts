import { buildApp } from './app.js';
import type { Config } from './config.js';
import { openServerDatabase } from './db/open.js';
import { latestMigrationVersion, migrate } from './db/migrate.js';
import { loggerOptions } from './logger.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** config → database → migrations → app → listen. The only place that starts things. */
export async function startServer(config: Config): Promise<RunningServer> {
  const db = await openServerDatabase(config);
  try {
    await migrate(db);
    const app = await buildApp({ config, db, migrationVersion: latestMigrationVersion(), logger: loggerOptions(config.logLevel) });
    const url = await app.listen({ port: config.port, host: config.host });
    let closing: Promise<void> | undefined;
    return {
      url,
      close: () => {
        closing ??= (async () => {
          await app.close();
          await db.close();
        })();
        return closing;
      },
    };
  } catch (err) {
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

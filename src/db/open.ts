import type { Config } from '../config.js';
import { createPostgresDatabase, type Database } from './database.js';
import { connectToRunningServer, openEmbeddedDatabase, shareEmbeddedDatabase } from './embedded.js';

/** The server's database: PostgreSQL when DATABASE_URL is set, else the embedded PGlite, shared with the CLI. */
export async function openServerDatabase(config: Config): Promise<Database> {
  if (config.databaseUrl) {
    return createPostgresDatabase(config.databaseUrl, {
      poolSize: config.dbPoolSize,
      preparedStatements: config.dbPreparedStatements,
      statementTimeoutMs: config.dbStatementTimeoutMs,
      connectTimeoutMs: config.dbConnectTimeoutMs,
    });
  }
  const db = await openEmbeddedDatabase(config.dataDir);
  try {
    const unshare = await shareEmbeddedDatabase(db.pglite, config.dataDir);
    return {
      ...db,
      async close() {
        await unshare();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** The CLI's database: the running server's embedded database when there is one, else the data folder itself. */
export async function openCliDatabase(config: Config): Promise<Database> {
  if (config.databaseUrl) {
    return createPostgresDatabase(config.databaseUrl, { poolSize: 2, preparedStatements: config.dbPreparedStatements });
  }
  return (await connectToRunningServer(config.dataDir)) ?? openEmbeddedDatabase(config.dataDir);
}

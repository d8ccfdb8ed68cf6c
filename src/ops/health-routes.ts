import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.js';
import { appliedMigrationVersion } from '../db/migrate.js';

export interface HealthRouteOptions {
  db: Database;
  /** The schema version this build needs. */
  migrationVersion: number;
}

/** /healthz: the process answers. /readyz: it can serve tokens (database reachable, schema current). */
export async function healthRoutes(app: FastifyInstance, { db, migrationVersion }: HealthRouteOptions) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      const applied = await appliedMigrationVersion(db);
      if (applied < migrationVersion) {
        return reply.code(503).send({ status: 'not ready', reason: `schema at version ${applied}, needs ${migrationVersion}` });
      }
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'not ready', reason: 'database unreachable' });
    }
  });
}

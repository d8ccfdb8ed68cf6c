import { createClientRepository } from '../clients/client-repository.js';
import { createClientService } from '../clients/client-service.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { openCliDatabase } from '../db/open.js';
import { createPasswordHasher } from '../users/passwords.js';
import { createUserRepository } from '../users/user-repository.js';
import { createRoleService } from '../users/role-service.js';
import { createUserService } from '../users/user-service.js';

function createStore(db: Database, config: Config) {
  const users = createUserRepository(db);
  const clients = createClientRepository(db);
  const hasher = createPasswordHasher(config.argon2);
  return {
    db,
    config,
    users,
    clients,
    hasher,
    userService: createUserService(db, hasher),
    roleService: createRoleService(db),
    clientService: createClientService(clients, {
      db,
      allowHttpLoopbackJwksUri: config.clientAssertions.allowHttpLoopbackJwksUri,
    }),
  };
}
export type Store = ReturnType<typeof createStore>;

/** How a command reaches its database; tests hand the CLI one they hold open. */
export type OpenDatabase = (config: Config) => Promise<Database>;

/** Opens the database (migrating it, as the server would), runs one command, closes. */
export async function withStore<T>(
  config: Config,
  fn: (store: Store) => Promise<T>,
  open: OpenDatabase = openCliDatabase,
): Promise<T> {
  const db = await open(config);
  try {
    await migrate(db);
    return await fn(createStore(db, config));
  } finally {
    await db.close();
  }
}

import { randomBytes } from 'node:crypto';
import { createClientRepository } from './clients/client-repository.js';
import { createClientService } from './clients/client-service.js';
import type { Database } from './db/database.js';
import type { PasswordHasher } from './users/passwords.js';
import { createUserService } from './users/user-service.js';

export interface DemoCredentials {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

/**
 * On an empty embedded database, a demo client (both grants) and a demo user, so that a first
 * token is one curl away. Returns undefined when the database already has clients or users.
 */
export async function createDemoIfEmpty(db: Database, hasher: PasswordHasher): Promise<DemoCredentials | undefined> {
  const r = await db.query<{ empty: boolean }>(
    'select not exists (select 1 from clients) and not exists (select 1 from users) as empty',
  );
  if (!r.rows[0]?.empty) return undefined;
  const password = randomBytes(12).toString('base64url');
  const { client, clientSecret } = await createClientService(createClientRepository(db)).create({
    clientId: 'demo',
    name: 'Demo app (created on first run)',
    grantTypes: ['client_credentials', 'password'],
    scopes: ['read', 'write'],
  });
  // Direct scopes, so the demo user's token carries what the demo client may ask for (client ∩ user).
  const user = await createUserService(db, hasher).create({ username: 'demo', password, scopes: ['read', 'write'] });
  return { clientId: client.clientId, clientSecret, username: user.username, password };
}

/** What the server prints once it listens: where it is, and how to get a first token. */
export function welcomeText(url: string, demo: DemoCredentials | undefined): string {
  const token = `${url}/token`;
  const lines = [`Sigil is listening on ${url}`, ''];
  if (demo) {
    lines.push(
      'First run: created a demo client and a demo user. The secrets are shown only now:',
      `  client_id      ${demo.clientId}`,
      `  client_secret  ${demo.clientSecret}`,
      `  username       ${demo.username}`,
      `  password       ${demo.password}`,
      '',
      'A token for a service (client_credentials):',
      `  curl -s -u '${demo.clientId}:${demo.clientSecret}' -d grant_type=client_credentials ${token}`,
      '',
      'A token for a user (password grant):',
      `  curl -s -u '${demo.clientId}:${demo.clientSecret}' -d grant_type=password -d username=${demo.username} -d 'password=${demo.password}' ${token}`,
    );
  } else {
    lines.push(
      'Get a token: create a client in another terminal, then ask for a token with its credentials:',
      '  npx sigil clients create --name "My service" --grant client_credentials --scope read',
      `  curl -s -u 'CLIENT_ID:CLIENT_SECRET' -d grant_type=client_credentials ${token}`,
    );
  }
  lines.push('', `Tokens verify against ${url}/.well-known/jwks.json. Stop with Ctrl-C.`, '');
  return lines.join('\n');
}

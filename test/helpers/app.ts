import { createLocalJWKSet, jwtVerify } from 'jose';
import { buildApp } from '../../src/app.js';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { createClientService, type NewClient } from '../../src/clients/client-service.js';
import { parseConfig } from '../../src/config.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { createPasswordHasher, type PasswordHasher } from '../../src/users/passwords.js';
import { createUserRepository } from '../../src/users/user-repository.js';
import { createUserService } from '../../src/users/user-service.js';
import { createTestDatabase } from './db.js';
import { createTestKeys } from './keys.js';

export const TEST_ISSUER = 'https://sigil.test';
export const FORM = 'application/x-www-form-urlencoded';

export const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

/** client_secret_basic as RFC 6749 §2.3.1 wants it: each part form-urlencoded, then base64. */
export function basicAuth(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

interface TestContext {
  teardown(fn: () => unknown): void;
}

export interface TestAppOptions {
  now?: () => Date;
  /** Environment-style settings on top of the test defaults. */
  env?: Record<string, string>;
  hasher?: PasswordHasher;
  logger?: Parameters<typeof buildApp>[0]['logger'];
}

/**
 * A real Sigil app on a fresh database of its own, with loaded signing keys, and helpers to seed
 * clients and users, call /token and verify tokens against the published JWKS.
 */
export async function buildTestApp(t: TestContext, o: TestAppOptions = {}) {
  const config = parseConfig({ SIGIL_ISSUER: TEST_ISSUER, LOG_LEVEL: 'silent', ...o.env });
  const { db, url } = await createTestDatabase(t);
  const keys = await createTestKeys(db, { config, ...(o.now && { now: o.now }) });
  const app = await buildApp({
    config,
    db,
    keys,
    migrationVersion: latestMigrationVersion(),
    ...(o.now && { now: o.now }),
    ...(o.hasher && { hasher: o.hasher }),
    ...(o.logger !== undefined && { logger: o.logger }),
  });
  t.teardown(() => app.close());
  const clients = createClientService(createClientRepository(db));
  const users = createUserService(createUserRepository(db), createPasswordHasher(config.argon2));

  const seed = {
    async client(c: Partial<NewClient> & Pick<NewClient, 'grantTypes'>) {
      const { client, clientSecret } = await clients.create({ name: 'Test client', ...c });
      return { ...client, secret: clientSecret };
    },
    user: (username: string, password: string) => users.create(username, password),
  };

  /** POST /token with a form (object or raw string), extra headers and a client address. */
  const token = (body: Record<string, string> | string, headers: Record<string, string> = {}, remoteAddress?: string) =>
    app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': FORM, ...headers },
      payload: typeof body === 'string' ? body : form(body),
      ...(remoteAddress && { remoteAddress }),
    });

  /** Verifies an access token as a resource server would: against the JWKS the app publishes. */
  const verify = async (accessToken: string) => {
    const jwks = createLocalJWKSet((await app.inject({ url: '/.well-known/jwks.json' })).json());
    const { payload } = await jwtVerify(accessToken, jwks, {
      issuer: TEST_ISSUER,
      typ: 'at+jwt',
      ...(o.now && { currentDate: o.now() }),
    });
    return payload;
  };

  return { app, db, url, config, keys, clients, users, seed, token, verify };
}

import { createLocalJWKSet, jwtVerify } from 'jose';
import { buildApp } from '../../src/app.js';
import { type ClientCache, createClientCache } from '../../src/clients/client-cache.js';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { createClientService, type NewClient } from '../../src/clients/client-service.js';
import { parseConfig } from '../../src/config.js';
import { loggerOptions } from '../../src/logger.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { createPasswordHasher, type PasswordHasher } from '../../src/users/passwords.js';
import { createRoleService } from '../../src/users/role-service.js';
import { createUserService } from '../../src/users/user-service.js';
import { createTestDatabase } from './db.js';
import { createTestKeys } from './keys.js';
import { recordSecret, suiteLogStream } from './secret-scan.js';

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
  /** DPoP nonce key (default: random per app); two apps given one key accept each other's nonces. */
  dpopNonceKey?: Uint8Array;
  /**
   * A client cache the test drives: on this clock, with no timer and no LISTEN, so that it forgets
   * a changed client only when the test calls `clientCache.check()` or moves the clock past the
   * staleness bound. Returned as `clientCache`. Without it, the app's own (as in production).
   */
  clientCacheClock?: () => number;
}

/**
 * A real Sigil app on a fresh database of its own, with loaded signing keys, and helpers to seed
 * clients and users, call /token and verify tokens against the published JWKS.
 */
export async function buildTestApp(t: TestContext, o: TestAppOptions = {}) {
  // Load shedding off unless a test turns it on: a busy CI machine stalls test processes.
  const config = parseConfig({ SIGIL_ISSUER: TEST_ISSUER, LOG_LEVEL: 'silent', SIGIL_MAX_EVENT_LOOP_DELAY_MS: '0', ...o.env });
  // Unless a test watches the logs itself, they go to the run's log folder at trace level,
  // where test/helpers/after.ts looks for every secret the suite used.
  const logger = o.logger ?? { ...(loggerOptions('trace') as object), stream: suiteLogStream() };
  const { db, url } = await createTestDatabase(t);
  const keys = await createTestKeys(db, { config, ...(o.now && { now: o.now }) });
  let clientCache: ClientCache | undefined;
  if (o.clientCacheClock) {
    clientCache = createClientCache(db, createClientRepository(db), { maxEntries: config.clientCacheSize, now: o.clientCacheClock });
    await clientCache.start({ listen: false, timer: false });
    const started = clientCache;
    t.teardown(() => started.stop());
  }
  const app = await buildApp({
    config,
    db,
    keys,
    migrationVersion: latestMigrationVersion(),
    ...(o.now && { now: o.now }),
    ...(o.hasher && { hasher: o.hasher }),
    ...(o.dpopNonceKey && { dpopNonceKey: o.dpopNonceKey }),
    ...(clientCache && { clientCache }),
    logger,
  });
  t.teardown(() => app.close());
  const clients = createClientService(createClientRepository(db));
  const users = createUserService(db, createPasswordHasher(config.argon2));
  const roles = createRoleService(db);

  const seed = {
    async client(c: Partial<NewClient> & Pick<NewClient, 'grantTypes'>) {
      const { client, clientSecret } = await clients.create({ name: 'Test client', ...c });
      recordSecret(clientSecret);
      return { ...client, secret: clientSecret };
    },
    /** A user with a password, and optionally roles and direct scopes (the roles must exist). */
    user: (username: string, password: string, o: { roles?: string[]; scopes?: string[] } = {}) => {
      recordSecret(password);
      return users.create({ username, password, ...o });
    },
    role: (name: string, scopes: string[]) => roles.create({ name, scopes }),
  };

  /** POST /token with a form (object or raw string), extra headers and a client address. */
  const token = async (body: Record<string, string> | string, headers: Record<string, string> = {}, remoteAddress?: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': FORM, ...headers },
      payload: typeof body === 'string' ? body : form(body),
      ...(remoteAddress && { remoteAddress }),
    });
    if (res.statusCode === 200) {
      const issued = res.json() as { access_token?: string; refresh_token?: string };
      recordSecret(issued.access_token, issued.refresh_token);
    }
    return res;
  };

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

  return { app, db, url, config, keys, clients, clientCache, users, roles, seed, token, verify };
}

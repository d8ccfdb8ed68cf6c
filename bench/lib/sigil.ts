// Sigil as the bench runs it: the compiled dist/ (what production runs: `npm run build`, then
// `sigil serve` as a child process) on PostgreSQL, after the CLI has migrated the database and
// created the bench's clients and user, the way an operator would; more instances on the same
// database on demand.
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Config, parseConfig } from '../../src/config.js';
import type { ClientCredentials } from './oauth.js';
import { freePort, runToCompletion, type Server, startServer } from './spawn.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// Not bin/sigil.js: in a checkout it runs the sources through tsx, which production never does
// (tsx's compiler and loader thread cost about 85 MB of RSS, and the profile would show them).
const SIGIL_BIN = fileURLToPath(new URL('./sigil-dist.js', import.meta.url));
const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
// How the Docker image, docker-compose.yml and `npm start` run Sigil (docs/benchmarks.md,
// "Memory"; test/ops/runtime-flags.test.ts keeps the four the same).
export const SIGIL_NODE_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=50'];

/** A private_key_jwt client (RFC 7523): registered with the public half of an ES256 key. */
export interface KeyClient {
  clientId: string;
  kid: string;
  privateKey: KeyObject;
  /** What Sigil holds of it: the public JWK, with its kid. */
  publicJwk: Record<string, unknown>;
}

/** A database the CLI has migrated and seeded with the bench's clients and user. */
export interface Seeded {
  databaseUrl: string;
  /** client_credentials client (the service scenarios). */
  service: ClientCredentials;
  /** client_credentials client authenticating with a client assertion instead of a secret. */
  keyClient: KeyClient;
  /** First-party app allowed the password grant (password and refresh scenarios). */
  app: ClientCredentials;
  /** Resource server that may introspect any token. */
  resourceServer: ClientCredentials;
  user: { username: string; password: string };
  /** `sigil <args>` as an operator runs it: the same environment, the same database; resolves with stdout. */
  cli(args: string[], input?: string): Promise<string>;
}

export interface Sigil extends Server, Omit<Seeded, 'databaseUrl'> {
  issuer: string;
  /** The argon2 parameters Sigil hashes with: the password ceiling uses the same. */
  argon2: Config['argon2'];
  /** How often every instance reloads the signing keys (the bound when a NOTIFY goes missing). */
  keyReloadSeconds: number;
  /**
   * One more `sigil serve` on the same database with the same settings (issuer and key-encryption
   * key included), on a port of its own, as behind a load balancer. Stop it before this one.
   */
  startInstance(): Promise<Server>;
}

const random = (bytes: number) => randomBytes(bytes).toString('base64url');

/** `sigil clients create … --json`; resolves with what it printed. */
async function created(cli: Seeded['cli'], name: string, options: string[]): Promise<Record<string, unknown>> {
  const out = JSON.parse(await cli(['clients', 'create', '--name', name, ...options, '--json'])) as Record<string, unknown>;
  if (typeof out.client_id !== 'string') throw new Error(`sigil clients create printed no client_id: ${JSON.stringify(out)}`);
  return out;
}

/** `sigil clients create … --json`; resolves with the credentials it printed. */
export async function createClient(cli: Seeded['cli'], name: string, options: string[]): Promise<ClientCredentials> {
  const out = await created(cli, name, options);
  if (typeof out.client_secret !== 'string') throw new Error(`sigil clients create printed no client_secret: ${JSON.stringify(out)}`);
  return { clientId: String(out.client_id), clientSecret: out.client_secret };
}

async function createKeyClient(cli: Seeded['cli'], name: string, dir: string): Promise<KeyClient> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `bench-${random(6)}`;
  const file = join(dir, `${name}.jwks.json`);
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  writeFileSync(file, JSON.stringify({ keys: [publicJwk] }));
  const out = await created(cli, name, ['--grant', 'client_credentials', '--scope', 'read write', '--auth', 'private_key_jwt', '--jwks-file', file]);
  return { clientId: String(out.client_id), kid, privateKey, publicJwk };
}

/** The environment every Sigil process of the run gets on top of the bench's own. */
function sigilEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    // warn: per-request logging off, as a production instance would run.
    LOG_LEVEL: 'warn',
    SIGIL_DEMO: 'false',
    // The load comes from one address at thousands of requests per second: the per-address
    // rate limit would turn it into 429s. Load shedding stays on, as in production.
    SIGIL_RATE_LIMIT_PER_MINUTE: '0',
    // A given key is kept: a DATABASE_URL may hold signing keys wrapped with it.
    SIGIL_KEY_ENCRYPTION_KEY: process.env.SIGIL_KEY_ENCRYPTION_KEY || KEY_ENCRYPTION_KEY,
  };
}
// One per run: every Sigil of the run can then read every database's keys.
const KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64');

/** npm run build (tsc -p tsconfig.build.json): once per run. */
export async function buildSigil(log: (msg: string) => void): Promise<void> {
  log('compiling Sigil (npm run build: tsc -p tsconfig.build.json)');
  await runToCompletion(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { env: process.env, cwd: REPO });
}

/**
 * Migrates the database and creates the bench's clients and user through the CLI, in a folder of
 * its own (so that no stray .env adds settings this process does not see), removed by `cleanUp`.
 */
export async function seedSigil(databaseUrl: string, log: (msg: string) => void): Promise<Seeded & { cwd: string; cleanUp(): void }> {
  const env = sigilEnv(databaseUrl);
  const cwd = mkdtempSync(join(tmpdir(), 'sigil-bench-'));
  const cleanUp = () => rmSync(cwd, { recursive: true, force: true });
  try {
    const cli = (args: string[], input?: string) =>
      runToCompletion(process.execPath, [SIGIL_BIN, ...args], { env, cwd, ...(input !== undefined && { input }) });
    log('migrating the database and creating the bench clients and user (sigil CLI)');
    await cli(['migrate', '--json']);
    const tag = random(4);
    const user = { username: `bench-user-${tag}`, password: random(18) };
    const [service, keyClient, app, resourceServer] = await Promise.all([
      createClient(cli, `bench-service-${tag}`, ['--grant', 'client_credentials', '--scope', 'read write']),
      createKeyClient(cli, `bench-key-service-${tag}`, cwd),
      createClient(cli, `bench-app-${tag}`, ['--grant', 'password', '--scope', 'read write']),
      // A grant is required of every client; a resource server may need tokens of its own anyway.
      createClient(cli, `bench-resource-server-${tag}`, ['--grant', 'client_credentials', '--introspect']),
      cli(['roles', 'create', `bench-role-${tag}`, '--scope', 'read write', '--json']),
    ]);
    // The user holds her scopes through a role, so a login and a refresh read roles and scopes as
    // a real user's do; a user's token gets client ∩ user.
    await cli(['users', 'create', '--username', user.username, '--role', `bench-role-${tag}`, '--password-stdin', '--json'], `${user.password}\n`);
    return { databaseUrl, service, keyClient, app, resourceServer, user, cli, cwd, cleanUp };
  } catch (err) {
    cleanUp();
    throw err;
  }
}

export interface ServeOptions {
  /** Settings on top of the bench's (e.g. SIGIL_WORKERS). */
  env?: Record<string, string>;
  /** Another Sigil's issuer, so that tokens are valid on both (as behind one load balancer). */
  issuer?: string;
  /** Extra flags for the `node` running `sigil serve` (e.g. --cpu-prof). */
  nodeArgs?: string[];
  name?: string;
}

/** `sigil serve` on a seeded database, on a port of its own; `stop` also removes the seed's folder. */
export async function serveSigil(seeded: Seeded & { cwd: string; cleanUp(): void }, log: (msg: string) => void, o: ServeOptions = {}): Promise<Sigil> {
  const { databaseUrl, cwd, cleanUp, ...seed } = seeded;
  const env: NodeJS.ProcessEnv = { ...sigilEnv(databaseUrl), ...o.env, ...(o.issuer !== undefined && { SIGIL_ISSUER: o.issuer }) };
  const serve = async (name: string, settings: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []) => {
    const port = await freePort();
    log(`starting ${name} on port ${port}`);
    return startServer(name, process.execPath, [...SIGIL_NODE_FLAGS, ...nodeArgs, SIGIL_BIN, 'serve'], {
      env: { ...env, ...settings, PORT: String(port) },
      cwd,
      url: `http://127.0.0.1:${port}`,
      readyPath: '/healthz',
    });
  };
  const name = o.name ?? 'Sigil';
  const server = await serve(name, {}, o.nodeArgs);
  try {
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { issuer?: unknown };
    if (typeof metadata.issuer !== 'string') throw new Error('Sigil serves no issuer in its metadata');
    const issuer = metadata.issuer;
    // Sigil's own config parser, on the environment Sigil gets.
    const config = parseConfig({ ...env, PORT: new URL(server.url).port });
    let instances = 1;
    return {
      ...seed,
      ...server,
      stop: async () => {
        await server.stop();
        cleanUp();
      },
      issuer,
      argon2: config.argon2,
      keyReloadSeconds: config.keys.reloadIntervalSeconds,
      // The first instance's issuer for all (by default it follows the port), as behind a load balancer.
      startInstance: () => serve(`${name} ${++instances}`, { SIGIL_ISSUER: issuer }),
    };
  } catch (err) {
    await server.stop();
    cleanUp();
    throw err;
  }
}

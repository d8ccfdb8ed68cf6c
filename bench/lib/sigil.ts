// Sigil as the bench runs it: the compiled dist/ (what production runs: `npm run build`, then
// `sigil serve` as a child process) on PostgreSQL, after the CLI has migrated the database and
// created the bench's clients and user, the way an operator would; more instances on the same
// database on demand.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
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
// How the Docker image, docker-compose.yml and `npm start` run Sigil (README, "Memory"; a test
// keeps the four the same).
export const SIGIL_NODE_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=50'];

export interface Sigil extends Server {
  issuer: string;
  /** client_credentials client (the service scenarios). */
  service: ClientCredentials;
  /** First-party app allowed the password grant (password and refresh scenarios). */
  app: ClientCredentials;
  /** Resource server that may introspect any token. */
  resourceServer: ClientCredentials;
  user: { username: string; password: string };
  /** The argon2 parameters Sigil hashes with: the password ceiling uses the same. */
  argon2: Config['argon2'];
  /** How often every instance reloads the signing keys (the bound when a NOTIFY goes missing). */
  keyReloadSeconds: number;
  /** `sigil <args>` as an operator runs it: the same environment, the same database; resolves with stdout. */
  cli(args: string[], input?: string): Promise<string>;
  /**
   * One more `sigil serve` on the same database with the same settings (issuer and key-encryption
   * key included), on a port of its own, as behind a load balancer. Stop it before this one.
   */
  startInstance(): Promise<Server>;
}

const random = (bytes: number) => randomBytes(bytes).toString('base64url');

/** `sigil clients create … --json`; resolves with the credentials it printed. */
export async function createClient(cli: (args: string[]) => Promise<string>, name: string, options: string[]): Promise<ClientCredentials> {
  const out = JSON.parse(await cli(['clients', 'create', '--name', name, ...options, '--json'])) as Record<string, unknown>;
  if (typeof out.client_id !== 'string' || typeof out.client_secret !== 'string') {
    throw new Error(`sigil clients create printed no credentials: ${JSON.stringify(out)}`);
  }
  return { clientId: out.client_id, clientSecret: out.client_secret };
}

export interface SigilOptions {
  /** Extra flags for the `node` running `sigil serve` (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export async function startSigil(databaseUrl: string, log: (msg: string) => void, o: SigilOptions = {}): Promise<Sigil> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    // warn: per-request logging off, as a production instance would run.
    LOG_LEVEL: 'warn',
    SIGIL_DEMO: 'false',
    // The load comes from one address at thousands of requests per second: the per-address
    // rate limit would turn it into 429s. Load shedding stays on, as in production.
    SIGIL_RATE_LIMIT_PER_MINUTE: '0',
    // A given key is kept: a DATABASE_URL may hold signing keys wrapped with it.
    SIGIL_KEY_ENCRYPTION_KEY: process.env.SIGIL_KEY_ENCRYPTION_KEY || randomBytes(32).toString('base64'),
  };
  // A folder of its own, so that no stray .env adds settings this process does not see.
  const cwd = mkdtempSync(join(tmpdir(), 'sigil-bench-'));
  try {
    const cli = (args: string[], input?: string) =>
      runToCompletion(process.execPath, [SIGIL_BIN, ...args], { env, cwd, ...(input !== undefined && { input }) });
    const serve = (name: string, port: number, settings: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []) => {
      log(`starting ${name} on port ${port}`);
      return startServer(name, process.execPath, [...SIGIL_NODE_FLAGS, ...nodeArgs, SIGIL_BIN, 'serve'], {
        env: { ...env, ...settings, PORT: String(port) },
        cwd,
        url: `http://127.0.0.1:${port}`,
        readyPath: '/healthz',
      });
    };

    log('compiling Sigil (npm run build: tsc -p tsconfig.build.json)');
    await runToCompletion(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { env: process.env, cwd: REPO });
    log('migrating the database and creating the bench clients and user (sigil CLI)');
    await cli(['migrate', '--json']);
    const tag = random(4);
    const user = { username: `bench-user-${tag}`, password: random(18) };
    const [service, app, resourceServer] = await Promise.all([
      createClient(cli, `bench-service-${tag}`, ['--grant', 'client_credentials', '--scope', 'read write']),
      createClient(cli, `bench-app-${tag}`, ['--grant', 'password', '--scope', 'read write']),
      // A grant is required of every client; a resource server may need tokens of its own anyway.
      createClient(cli, `bench-resource-server-${tag}`, ['--grant', 'client_credentials', '--introspect']),
      cli(['roles', 'create', `bench-role-${tag}`, '--scope', 'read write', '--json']),
    ]);
    // The user holds her scopes through a role, so a login and a refresh read roles and scopes as
    // a real user's do (issue 13); a user's token gets client ∩ user.
    await cli(['users', 'create', '--username', user.username, '--role', `bench-role-${tag}`, '--password-stdin', '--json'], `${user.password}\n`);

    const server = await serve('Sigil', port, {}, o.nodeArgs);
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { issuer?: unknown };
    if (typeof metadata.issuer !== 'string') throw new Error('Sigil serves no issuer in its metadata');
    const issuer = metadata.issuer;
    // Sigil's own config parser, on the environment Sigil gets.
    const config = parseConfig(env);
    let instances = 1;
    return {
      ...server,
      stop: async () => {
        await server.stop();
        rmSync(cwd, { recursive: true, force: true });
      },
      issuer,
      service,
      app,
      resourceServer,
      user,
      argon2: config.argon2,
      keyReloadSeconds: config.keys.reloadIntervalSeconds,
      cli,
      // The first instance's issuer for all (by default it follows the port), as behind a load balancer.
      startInstance: async () => serve(`Sigil ${++instances}`, await freePort(), { SIGIL_ISSUER: issuer }),
    };
  } catch (err) {
    rmSync(cwd, { recursive: true, force: true });
    throw err;
  }
}

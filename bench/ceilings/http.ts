// What every ceiling shares: Sigil's HTTP stack (Fastify + @fastify/formbody) and the same request
// parsing, so the gap between a ceiling and Sigil is Sigil's own work (database, checks, logging).
import cluster from 'node:cluster';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';

// Sigil's body limit (src/app.ts BODY_LIMIT_BYTES); copied rather than imported so that a ceiling
// loads nothing of Sigil.
const BODY_LIMIT_BYTES = 16 * 1024;

/** A Fastify instance like Sigil's, minus logging: a ceiling does only what it must. */
export async function ceilingServer(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });
  await app.register(formbody);
  return app;
}

/**
 * Listens on a free loopback port and tells the parent which one: this JSON line is the only thing
 * a ceiling writes to stdout (bench/lib/spawn.ts waits for it). In a worker of cluster.ts, the
 * port (the same for every worker: node:cluster shares port 0) goes to the primary instead.
 */
export async function announce(app: FastifyInstance): Promise<void> {
  // An exit rather than death by the signal, so that `node --cpu-prof` (bench --cpu-prof) writes its profile.
  process.once('SIGTERM', () => process.exit(0));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the ceiling is not listening on TCP');
  if (cluster.isWorker) process.send?.({ port: address.port });
  else process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
}

/** The form parameters, each once, as Sigil's readForm requires; undefined when the body is not a form. */
export function formParams(req: FastifyRequest): Record<string, string> | undefined {
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(value)) return undefined;
    if (value !== '') params[name] = String(value);
  }
  return params;
}

const formDecode = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));

/** client_secret_basic (RFC 6749 §2.3.1): base64 of form-encoded id ":" form-encoded secret. */
export function basicCredentials(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const match = header === undefined ? null : /^basic[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/** A setting the bench passes in; a ceiling without it cannot mean anything, so it stops. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (ceilings are started by bench/run.ts)`);
  return value;
}

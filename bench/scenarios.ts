// What the bench measures, as data: the ceilings (bare Fastify servers doing only the unavoidable
// work of a request), the Sigil setups other than the default one, and the scenarios with their
// targets. A ratio to a ceiling measured in the same run, interleaved, is what means something.
// How to add one: bench/README.md, "Adding a scenario"; the types: lib/scenario.ts.
import { runClusterEvents } from './lib/cluster-events.js';
import type { Ceiling, Scenario, Setup } from './lib/scenario.js';
import { SCALE_SCENARIOS } from './scale/scenarios.js';
import {
  clientAssertionTraffic,
  clientCredentialsTraffic,
  dpopTraffic,
  garbageTraffic,
  introspectTraffic,
  jwksTraffic,
  passwordCeilingTraffic,
  passwordTraffic,
  refreshTraffic,
} from './lib/traffic.js';

const jwksCeilingEnv = ({ jwksBody, sigil }: Parameters<NonNullable<Ceiling['env']>>[0]) => ({ BENCH_JWKS: jwksBody, BENCH_ISSUER: sigil.issuer });

// (b') and (d') sign and verify as Sigil does (node:crypto on libuv's pool); (b) and (d) use jose,
// as issue 7 defines them, and the targets of client_credentials and introspect stay on those.
const signNode: Omit<Ceiling, 'name' | 'label'> = { script: 'sign.ts', env: () => ({ BENCH_CRYPTO: 'node' }), connections: 'http', traffic: clientCredentialsTraffic };
const verifyNode: Omit<Ceiling, 'name' | 'label'> = {
  script: 'verify.ts',
  env: (ctx) => ({ ...jwksCeilingEnv(ctx), BENCH_CRYPTO: 'node' }),
  connections: 'http',
  traffic: introspectTraffic,
};

export const CEILINGS: readonly Ceiling[] = [
  {
    name: 'static-json',
    label: '(a) static JSON',
    script: 'static-json.ts',
    env: (ctx) => ({ BENCH_BODY_BYTES: String(Buffer.byteLength(ctx.jwksBody)) }),
    connections: 'http',
    traffic: jwksTraffic,
  },
  { name: 'sign', label: '(b) form+Basic+ES256 sign', script: 'sign.ts', connections: 'http', traffic: clientCredentialsTraffic },
  {
    name: 'argon2',
    label: '(c) argon2id verify',
    script: 'argon2.ts',
    env: ({ sigil }) => ({ BENCH_ARGON2: JSON.stringify(sigil.argon2), BENCH_PASSWORD: sigil.user.password }),
    connections: 'password',
    traffic: passwordCeilingTraffic,
  },
  { name: 'verify', label: '(d) form+Basic+ES256 verify', script: 'verify.ts', env: jwksCeilingEnv, connections: 'http', traffic: introspectTraffic },
  { name: 'sign-node', label: "(b') (b), node:crypto sign", ...signNode },
  { name: 'verify-node', label: "(d') (d), node:crypto verify", ...verifyNode },
  {
    name: 'dpop',
    label: "(e) (b') + DPoP proof verify",
    script: 'dpop.ts',
    env: ({ sigil }) => ({ BENCH_ISSUER: sigil.issuer }),
    connections: 'http',
    traffic: dpopTraffic,
  },
  {
    name: 'client-assertion',
    label: "(f) (b') + client assertion verify",
    script: 'client-assertion.ts',
    env: ({ sigil }) => ({
      BENCH_ISSUER: sigil.issuer,
      BENCH_CLIENT_ID: sigil.keyClient.clientId,
      BENCH_CLIENT_JWK: JSON.stringify(sigil.keyClient.publicJwk),
    }),
    connections: 'http',
    traffic: clientAssertionTraffic,
  },
  // The same with two processes sharing the port (node:cluster), for the workers scenarios.
  { name: 'sign-node-2w', label: "(b'2) (b'), 2 processes", workers: 2, ...signNode },
  { name: 'verify-node-2w', label: "(d'2) (d'), 2 processes", workers: 2, ...verifyNode },
];

/** SIGIL_WORKERS=2: a node:cluster primary and two workers on the run's database (issue 16). */
const TWO_WORKERS: Setup = { name: 'SIGIL_WORKERS=2', env: { SIGIL_WORKERS: '2' } };
/** SIGIL_WORKERS=1 explicitly, started and stopped beside the two-worker one, so both are alike but for it. */
const ONE_WORKER: Setup = { name: 'SIGIL_WORKERS=1', env: { SIGIL_WORKERS: '1' } };

/** The scenario on SIGIL_WORKERS=1 and =2, against `ceiling` in one and in two processes (`<ceiling>-2w`). */
function workersPair(name: string, traffic: Scenario['traffic'], ceiling: string): Scenario[] {
  return (
    [
      [ONE_WORKER, 1, ceiling],
      [TWO_WORKERS, 2, `${ceiling}-2w`],
    ] as const
  ).map(([setup, n, c]) => ({ name: `${name}_workers_${n}`, groups: ['workers'], onlyOnRequest: true, setup, ceiling: c, connections: 'http', traffic }));
}

// Fast enough for a thousand samples in a 10 s run, slow enough that the jwks load itself does not
// queue: what is left of its latency is the event loop's responsiveness while argon2 runs.
const JWKS_PROBE_RATE = 200;
const JWKS_PROBE_CONNECTIONS = 4;

export const SCENARIOS: readonly Scenario[] = [
  { name: 'jwks', ceiling: 'static-json', minRatio: 0.9, connections: 'http', traffic: jwksTraffic },
  { name: 'client_credentials', ceiling: 'sign', minRatio: 0.9, alsoCeiling: 'sign-node', connections: 'http', traffic: clientCredentialsTraffic },
  // Issue 14: the assertion check (one signature, one insert of its jti) against a ceiling that does
  // the same verify and sign, its replay check in memory.
  { name: 'client_credentials_private_key_jwt', ceiling: 'client-assertion', minRatio: 0.8, connections: 'http', traffic: clientAssertionTraffic },
  // Issue 14: the proof check (one signature, one insert of its jti) against a ceiling that does the
  // same verify and sign without a database.
  { name: 'client_credentials_dpop', ceiling: 'dpop', minRatio: 0.8, connections: 'http', traffic: dpopTraffic },
  { name: 'introspect', ceiling: 'verify', minRatio: 0.8, alsoCeiling: 'verify-node', connections: 'http', traffic: introspectTraffic },
  // No target, so no ceiling interleaved with it (that keeps a default run short).
  { name: 'introspect_garbage', connections: 'http', traffic: garbageTraffic },
  { name: 'refresh', ceiling: 'sign', minRatio: 0.5, connections: 'http', traffic: refreshTraffic },
  { name: 'password', ceiling: 'argon2', minRatio: 0.9, connections: 'password', traffic: passwordTraffic },
  {
    name: 'jwks_under_password',
    maxP99Ms: 20,
    connections: JWKS_PROBE_CONNECTIONS,
    traffic: () => ({ ...jwksTraffic(), overallRate: JWKS_PROBE_RATE }),
    background: { name: 'password', connections: 'password', traffic: passwordTraffic },
  },
  // Issue 16: one and two worker processes, each against a ceiling with as many processes, side
  // by side in time; no target (what 2 cores shared with the load generator can show: bench/README.md).
  ...workersPair('client_credentials', clientCredentialsTraffic, 'sign-node'),
  ...workersPair('introspect', introspectTraffic, 'verify-node'),
  // Last of the default run: it rotates the signing key and disables a client of its own.
  {
    name: 'many_instances',
    instances: 3,
    connections: 'http',
    traffic: clientCredentialsTraffic,
    background: { name: 'introspect', connections: 'http', traffic: introspectTraffic },
    during: runClusterEvents,
  },
  // Issue 16: the scale dataset beside a small one (bench/scale/), `--only scale`.
  ...SCALE_SCENARIOS,
];

// What the bench measures: Sigil's scenarios, the ceilings they are compared with, and the targets
// of issue 7. A ceiling is the same request answered by a bare Fastify server doing only the
// unavoidable work; measured in the same run on the same machine, the ratio is what means something.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import type autocannon from 'autocannon';
import { type Cluster, runClusterEvents } from './lib/cluster-events.js';
import type { Traffic } from './lib/load.js';
import { basicAuthorization, FORM_HEADERS, form, mapLimit, stringField, tokenRequest } from './lib/oauth.js';
import type { Findings } from './lib/report.js';
import type { Sigil } from './lib/sigil.js';

export interface BenchContext {
  sigil: Sigil;
  /** The JWKS Sigil serves (its size sizes ceiling (a); ceiling (d) verifies with its keys). */
  jwksBody: string;
  connections: number;
  passwordConnections: number;
  /** Distinct active access tokens, minted once per run on first use. */
  accessTokens(): Promise<string[]>;
}

/** `http`: --connections; `password`: --password-connections; a number: fixed. */
export type Connections = 'http' | 'password' | number;

export const CEILING_NAMES = ['static-json', 'sign', 'argon2', 'verify', 'sign-node', 'verify-node', 'dpop'] as const;
export type CeilingName = (typeof CEILING_NAMES)[number];

export interface Ceiling {
  name: CeilingName;
  label: string;
  /** File in bench/ceilings/. */
  script: string;
  env(ctx: BenchContext): Record<string, string>;
  connections: Connections;
  traffic(ctx: BenchContext): Promise<Traffic>;
}

export const SCENARIO_NAMES = [
  'jwks',
  'client_credentials',
  'client_credentials_dpop',
  'introspect',
  'introspect_garbage',
  'refresh',
  'password',
  'jwks_under_password',
  'many_instances',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface Scenario {
  name: ScenarioName;
  ceiling?: CeilingName;
  /** Target: requests/s ≥ minRatio × the ceiling's. Without it the ratio is shown for information. */
  minRatio?: number;
  /** A second ceiling, its ratio shown for information only (no target). */
  alsoCeiling?: CeilingName;
  /** Target: p99 latency at most this. */
  maxP99Ms?: number;
  connections: Connections;
  /** Built again for each phase (warm-up, then the timed run). */
  traffic(ctx: BenchContext): Promise<Traffic>;
  /** Load run at the same time: its answers are checked as the primary load's are, its speed only reported. */
  background?: { name: string; connections: Connections; traffic(ctx: BenchContext): Promise<Traffic> };
  /** Sigil processes on the one database, each load's connections shared among them (default 1). */
  instances?: number;
  /** Runs alongside the timed run (not the warm-up); its failures fail the scenario. */
  during?(cluster: Cluster, seconds: number): Promise<Findings>;
}

/** Sigil's targets that hold for every scenario. */
export const MAX_RSS_BYTES = 150 * 1024 * 1024;

// Fast enough for a thousand samples in a 10 s run, slow enough that the jwks load itself does not
// queue: what is left of its latency is the event loop's responsiveness while argon2 runs.
const JWKS_PROBE_RATE = 200;
const JWKS_PROBE_CONNECTIONS = 4;

const has = (text: string) => (body: string) => body.includes(text);
const post = (path: string, authorization: string) => ({
  method: 'POST' as const,
  path,
  headers: { ...FORM_HEADERS, authorization },
});

function jwksTraffic(): Traffic {
  return { request: () => ({ method: 'GET', path: '/.well-known/jwks.json' }), expect: has('"keys"') };
}

function clientCredentialsTraffic({ sigil }: BenchContext): Traffic {
  const body = form({ grant_type: 'client_credentials', scope: 'read' });
  return { request: () => ({ ...post('/token', basicAuthorization(sigil.service)), body }), expect: has('"access_token"') };
}

// Proofs each phase may use: every one has a jti of its own (Sigil refuses a replay), so the pool
// must outlast the phase; made before the phase, so the load generator only picks the next one.
const DPOP_POOL_SIZE = Number(process.env.BENCH_DPOP_PROOFS ?? 60_000);

/** client_credentials with a DPoP proof (RFC 9449), from a pool of proofs made in advance by one key. */
function dpopTraffic({ sigil }: BenchContext): Traffic {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const header = enc({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicKey.export({ format: 'jwk' }) });
  const htu = `${sigil.issuer}/token`;
  const iat = Math.floor(Date.now() / 1000);
  const proofs = Array.from({ length: DPOP_POOL_SIZE }, () => {
    const input = `${header}.${enc({ htm: 'POST', htu, iat, jti: randomUUID() })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  });
  let next = 0;
  const body = form({ grant_type: 'client_credentials', scope: 'read' });
  const base = post('/token', basicAuthorization(sigil.service));
  return {
    request: () => ({
      ...base,
      body,
      setupRequest: (req) => ({ ...req, headers: { ...req.headers, dpop: proofs[next++ % proofs.length] as string } }),
    }),
    expect: has('"token_type":"DPoP"'),
  };
}

function passwordTraffic({ sigil }: BenchContext): Traffic {
  const body = form({ grant_type: 'password', username: sigil.user.username, password: sigil.user.password, scope: 'read' });
  return { request: () => ({ ...post('/token', basicAuthorization(sigil.app)), body }), expect: has('"access_token"') };
}

/**
 * Every connection follows its own refresh-token chain: it starts from a token of a login made just
 * before the phase and sends, each time, the token the previous answer returned, as a client does.
 * Rotation makes each token single-use, so a pre-minted pool would need one argon2 login per
 * request (minutes of work); the chain needs one login per connection. A chain breaks on a failed
 * answer (the token is spent or its family revoked), so failures show up, never hide.
 */
async function refreshTraffic(ctx: BenchContext): Promise<Traffic> {
  const { sigil } = ctx;
  const heads = await mapLimit(ctx.connections, ctx.passwordConnections, async () =>
    stringField(
      await tokenRequest(sigil.url, sigil.app, {
        grant_type: 'password',
        username: sigil.user.username,
        password: sigil.user.password,
        scope: 'read',
      }),
      'refresh_token',
    ),
  );
  const base = post('/token', basicAuthorization(sigil.app));
  return {
    request: (): autocannon.Request => {
      let token = heads.pop();
      if (token === undefined) throw new Error('more connections than refresh-token chains');
      return {
        ...base,
        setupRequest: (req) => ({ ...req, body: form({ grant_type: 'refresh_token', refresh_token: token ?? '' }) }),
        onResponse: (status, body) => {
          if (status === 200) token = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
        },
      };
    },
    expect: has('"refresh_token"'),
  };
}

/** Cycles through thousands of distinct tokens, so no cache of verified tokens can make it trivial. */
async function introspectTraffic(ctx: BenchContext): Promise<Traffic> {
  const bodies = (await ctx.accessTokens()).map((token) => form({ token, token_type_hint: 'access_token' }));
  let next = 0;
  const base = post('/introspect', basicAuthorization(ctx.sigil.resourceServer));
  return {
    request: () => ({ ...base, setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }),
    expect: has('"active":true'),
  };
}

/** A fresh random string per request: not a JWT, so Sigil also looks it up as a refresh token. */
function garbageTraffic({ sigil }: BenchContext): Traffic {
  return {
    request: () => ({ ...post('/introspect', basicAuthorization(sigil.resourceServer)), body: 'token=garbage-[<id>]' }),
    idReplacement: true,
    expect: has('"active":false'),
  };
}

export const CEILINGS: readonly Ceiling[] = [
  {
    name: 'static-json',
    label: '(a) static JSON',
    script: 'static-json.ts',
    env: (ctx) => ({ BENCH_BODY_BYTES: String(Buffer.byteLength(ctx.jwksBody)) }),
    connections: 'http',
    traffic: async () => jwksTraffic(),
  },
  {
    name: 'sign',
    label: '(b) form+Basic+ES256 sign',
    script: 'sign.ts',
    env: () => ({}),
    connections: 'http',
    traffic: async (ctx) => clientCredentialsTraffic(ctx),
  },
  {
    name: 'argon2',
    label: '(c) argon2id verify',
    script: 'argon2.ts',
    env: ({ sigil }) => ({ BENCH_ARGON2: JSON.stringify(sigil.argon2), BENCH_PASSWORD: sigil.user.password }),
    connections: 'password',
    traffic: async (ctx) => ({ ...passwordTraffic(ctx), expect: has('"ok":true') }),
  },
  {
    name: 'verify',
    label: '(d) form+Basic+ES256 verify',
    script: 'verify.ts',
    env: (ctx) => ({ BENCH_JWKS: ctx.jwksBody, BENCH_ISSUER: ctx.sigil.issuer }),
    connections: 'http',
    traffic: introspectTraffic,
  },
  // (b) and (d) with the signature made and checked as Sigil does it (node:crypto on libuv's pool)
  // rather than with jose as issue 7 specifies: Sigil's targets stay on (b) and (d).
  {
    name: 'sign-node',
    label: "(b') (b), node:crypto sign",
    script: 'sign.ts',
    env: () => ({ BENCH_CRYPTO: 'node' }),
    connections: 'http',
    traffic: async (ctx) => clientCredentialsTraffic(ctx),
  },
  {
    name: 'verify-node',
    label: "(d') (d), node:crypto verify",
    script: 'verify.ts',
    env: (ctx) => ({ BENCH_JWKS: ctx.jwksBody, BENCH_ISSUER: ctx.sigil.issuer, BENCH_CRYPTO: 'node' }),
    connections: 'http',
    traffic: introspectTraffic,
  },
  {
    name: 'dpop',
    label: "(e) (b') + DPoP proof verify",
    script: 'dpop.ts',
    env: (ctx) => ({ BENCH_ISSUER: ctx.sigil.issuer }),
    connections: 'http',
    traffic: async (ctx) => dpopTraffic(ctx),
  },
];

export const SCENARIOS: readonly Scenario[] = [
  { name: 'jwks', ceiling: 'static-json', minRatio: 0.9, connections: 'http', traffic: async () => jwksTraffic() },
  {
    name: 'client_credentials',
    ceiling: 'sign',
    minRatio: 0.9,
    alsoCeiling: 'sign-node',
    connections: 'http',
    traffic: async (ctx) => clientCredentialsTraffic(ctx),
  },
  // Issue 14: the proof check (one signature, one insert of its jti) against a ceiling that does the
  // same verify and sign without a database.
  { name: 'client_credentials_dpop', ceiling: 'dpop', minRatio: 0.8, connections: 'http', traffic: async (ctx) => dpopTraffic(ctx) },
  { name: 'introspect', ceiling: 'verify', minRatio: 0.8, alsoCeiling: 'verify-node', connections: 'http', traffic: introspectTraffic },
  // No target, so no ceiling interleaved with it (that keeps a default run under 3 minutes).
  { name: 'introspect_garbage', connections: 'http', traffic: async (ctx) => garbageTraffic(ctx) },
  { name: 'refresh', ceiling: 'sign', minRatio: 0.5, connections: 'http', traffic: refreshTraffic },
  { name: 'password', ceiling: 'argon2', minRatio: 0.9, connections: 'password', traffic: async (ctx) => passwordTraffic(ctx) },
  {
    name: 'jwks_under_password',
    maxP99Ms: 20,
    connections: JWKS_PROBE_CONNECTIONS,
    traffic: async () => ({ ...jwksTraffic(), overallRate: JWKS_PROBE_RATE }),
    background: { name: 'password', connections: 'password', traffic: async (ctx) => passwordTraffic(ctx) },
  },
  // Last: it rotates the signing key and disables a client of its own.
  {
    name: 'many_instances',
    instances: 3,
    connections: 'http',
    traffic: async (ctx) => clientCredentialsTraffic(ctx),
    background: { name: 'introspect', connections: 'http', traffic: introspectTraffic },
    during: runClusterEvents,
  },
];

/** Mints `count` distinct access tokens with client_credentials, before any timed run. */
export async function mintAccessTokens(sigil: Sigil, count: number): Promise<string[]> {
  return mapLimit(count, 32, async () =>
    stringField(await tokenRequest(sigil.url, sigil.service, { grant_type: 'client_credentials', scope: 'read' }), 'access_token'),
  );
}

// The requests the scenarios and the ceilings send, one builder per kind: bench/scenarios.ts puts
// them together. A builder is called again for each phase (warm-up, every slice, the timed run).
import { generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import type autocannon from 'autocannon';
import type { Traffic } from './load.js';
import { basicAuthorization, FORM_HEADERS, form, mapLimit, stringField, tokenRequest } from './oauth.js';
import type { BenchContext } from './scenario.js';
import type { KeyClient, Sigil } from './sigil.js';

const has = (text: string) => (body: string) => body.includes(text);
const post = (path: string, authorization?: string) => ({
  method: 'POST' as const,
  path,
  headers: { ...FORM_HEADERS, ...(authorization !== undefined && { authorization }) },
});

export function jwksTraffic(): Traffic {
  return { request: () => ({ method: 'GET', path: '/.well-known/jwks.json' }), expect: has('"keys"') };
}

export function clientCredentialsTraffic({ sigil }: BenchContext): Traffic {
  const body = form({ grant_type: 'client_credentials', scope: 'read' });
  return { request: () => ({ ...post('/token', basicAuthorization(sigil.service)), body }), expect: has('"access_token"') };
}

const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const es256 = (input: string, key: KeyObject) =>
  `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;

/**
 * Single-use JWTs (each has a jti of its own: Sigil refuses a replay) signed ahead of the timed
 * runs: an ES256 signature costs the load generator 40–60 µs of CPU, which on a shared 2-core
 * machine is taken from the server under test, and at thousands of requests per second it would
 * be a fair part of a core. Before each phase the pool is topped up to `size` unused ones, so only
 * what was used (or has grown too old to be accepted, `maxAgeMs`) is signed again. Should a phase
 * use up the pool, the rest is signed per request, with a warning: raise BENCH_PRESIGNED then.
 */
export function presigned(size: number, maxAgeMs: number, make: () => string) {
  let pool: { jwt: string; madeAt: number }[] = [];
  let warned = false;
  return {
    topUp(now = Date.now()) {
      pool = pool.filter((p) => now - p.madeAt < maxAgeMs);
      while (pool.length < size) pool.push({ jwt: make(), madeAt: now });
    },
    take(): string {
      const next = pool.pop();
      if (next) return next.jwt;
      if (!warned) process.stderr.write(`[bench] the ${size} pre-signed JWTs ran out: signing per request now (raise BENCH_PRESIGNED)\n`);
      warned = true;
      return make();
    },
  };
}

// Enough for a phase at twice the fastest rate seen on this machine; BENCH_PRESIGNED raises it.
const PRESIGNED = Number(process.env.BENCH_PRESIGNED ?? 60_000);

// A proof's iat must be within SIGIL_DPOP_PROOF_WINDOW_SECONDS (60 by default) of its arrival.
const DPOP_MAX_AGE_MS = 30_000;

/** DPoP proofs (RFC 9449) of one key, per Sigil (their htu is its token endpoint). */
const dpopPools = new WeakMap<Sigil, ReturnType<typeof presigned>>();
function dpopPool(sigil: Sigil) {
  let pool = dpopPools.get(sigil);
  if (!pool) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const header = enc({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicKey.export({ format: 'jwk' }) });
    const htu = `${sigil.issuer}/token`;
    pool = presigned(PRESIGNED, DPOP_MAX_AGE_MS, () => es256(`${header}.${enc({ htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID() })}`, privateKey));
    dpopPools.set(sigil, pool);
  }
  return pool;
}

/** client_credentials (Basic) with a DPoP proof, each proof used once. */
export function dpopTraffic({ sigil }: BenchContext): Traffic {
  const pool = dpopPool(sigil);
  pool.topUp();
  const body = form({ grant_type: 'client_credentials', scope: 'read' });
  const base = post('/token', basicAuthorization(sigil.service));
  return {
    request: () => ({ ...base, body, setupRequest: (req) => ({ ...req, headers: { ...base.headers, dpop: pool.take() } }) }),
    expect: has('"token_type":"DPoP"'),
  };
}

// Sigil refuses an assertion whose exp is more than SIGIL_CLIENT_ASSERTION_MAX_AGE_SECONDS (300 by
// default) ahead; one signed 240 s ahead is used within the next 120 s.
const ASSERTION_LIFETIME_SECONDS = 240;
const ASSERTION_MAX_AGE_MS = 120_000;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const assertionPools = new WeakMap<KeyClient, ReturnType<typeof presigned>>();

/** RFC 7523 client assertions of the bench's key client, audience Sigil's token endpoint. */
function assertionPool(client: KeyClient, audience: string) {
  let pool = assertionPools.get(client);
  if (!pool) {
    const header = enc({ alg: 'ES256', kid: client.kid, typ: 'JWT' });
    pool = presigned(PRESIGNED, ASSERTION_MAX_AGE_MS, () => {
      const iat = Math.floor(Date.now() / 1000);
      const claims = { iss: client.clientId, sub: client.clientId, aud: audience, iat, exp: iat + ASSERTION_LIFETIME_SECONDS, jti: randomUUID() };
      return es256(`${header}.${enc(claims)}`, client.privateKey);
    });
    assertionPools.set(client, pool);
  }
  return pool;
}

/** client_credentials authenticated by private_key_jwt (RFC 7523 §2.2): a fresh assertion per request. */
export function clientAssertionTraffic({ sigil }: BenchContext): Traffic {
  const pool = assertionPool(sigil.keyClient, `${sigil.issuer}/token`);
  pool.topUp();
  const base = post('/token');
  const body = (assertion: string) =>
    form({ grant_type: 'client_credentials', scope: 'read', client_assertion_type: JWT_BEARER, client_assertion: assertion });
  return { request: () => ({ ...base, setupRequest: (req) => ({ ...req, body: body(pool.take()) }) }), expect: has('"access_token"') };
}

export function passwordTraffic({ sigil }: BenchContext): Traffic {
  const body = form({ grant_type: 'password', username: sigil.user.username, password: sigil.user.password, scope: 'read' });
  return { request: () => ({ ...post('/token', basicAuthorization(sigil.app)), body }), expect: has('"access_token"') };
}

/** What the argon2 ceiling answers to the password traffic. */
export function passwordCeilingTraffic(ctx: BenchContext): Traffic {
  return { ...passwordTraffic(ctx), expect: has('"ok":true') };
}

/**
 * Every connection follows its own refresh-token chain: it starts from a token of a login made just
 * before the phase and sends, each time, the token the previous answer returned, as a client does.
 * Rotation makes each token single-use, so a pre-minted pool would need one argon2 login per
 * request (minutes of work); the chain needs one login per connection. A chain breaks on a failed
 * answer (the token is spent or its family revoked), so failures show up, never hide.
 */
export async function refreshTraffic(ctx: BenchContext): Promise<Traffic> {
  const { sigil } = ctx;
  const heads = await mapLimit(ctx.connections, ctx.passwordConnections, async () =>
    stringField(
      await tokenRequest(sigil.url, sigil.app, { grant_type: 'password', username: sigil.user.username, password: sigil.user.password, scope: 'read' }),
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
export async function introspectTraffic(ctx: BenchContext): Promise<Traffic> {
  const bodies = (await ctx.accessTokens()).map((token) => form({ token, token_type_hint: 'access_token' }));
  let next = 0;
  const base = post('/introspect', basicAuthorization(ctx.sigil.resourceServer));
  return {
    request: () => ({ ...base, setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }),
    expect: has('"active":true'),
  };
}

/** A fresh random string per request: not a JWT, so Sigil also looks it up as a refresh token. */
export function garbageTraffic({ sigil }: BenchContext): Traffic {
  return {
    request: () => ({ ...post('/introspect', basicAuthorization(sigil.resourceServer)), body: 'token=garbage-[<id>]' }),
    idReplacement: true,
    expect: has('"active":false'),
  };
}

/** Mints `count` distinct access tokens with client_credentials, before any timed run. */
export async function mintAccessTokens(sigil: Sigil, count: number): Promise<string[]> {
  return mapLimit(count, 32, async () =>
    stringField(await tokenRequest(sigil.url, sigil.service, { grant_type: 'client_credentials', scope: 'read' }), 'access_token'),
  );
}

// Issue 16's scale scenarios: each kind of request on the scale dataset (a million users, five
// million refresh tokens…) and the same on a small dataset built by the same code, in the same
// run (`npm run bench -- --only scale`). compare.ts judges each large figure against its small one.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type autocannon from 'autocannon';
import { createClientCache } from '../../src/clients/client-cache.js';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { parseConfig } from '../../src/config.js';
import { createPostgresDatabase, type Database } from '../../src/db/database.js';
import { createHousekeeping, sigilPurgeTasks } from '../../src/ops/housekeeping.js';
import type { Traffic } from '../lib/load.js';
import { basicAuthorization, FORM_HEADERS, form, mapLimit, postForm, stringField, tokenRequest } from '../lib/oauth.js';
import type { Findings } from '../lib/results.js';
import type { BenchContext, Scenario, Setup } from '../lib/scenario.js';
import { type BuildReport, buildScaleDataset } from './dataset.js';
import { liveFamily, SCALE_USER_PASSWORD, type ScaleSizes, scaleClient, scaleClientSecret, scaleRefreshToken, scaleUser, families } from './dataset-sql.js';
import { scaledSizes } from './sizes.js';

/** The small dataset: the same rows at about a thousandth (refresh families enough for a run). */
const SMALL: ScaleSizes = { users: 1000, clients: 100, refreshTokens: 200_000, revocations: 1000, loginFailures: 100 };
/** client_credentials spreads over this many clients: ten times what the client cache holds by default. */
const DISTINCT_CLIENTS = 10_000;
/** Access tokens introspected: half of them revoked. */
const INTROSPECTED = 2000;

export interface ScaleData {
  databaseUrl: string;
  build: BuildReport;
  /** Heap bytes one client-cache entry costs (measured in the bench process with a real cache). */
  clientCacheEntryBytes?: number;
  /** Live families in a random order; each refresh takes the next one's token (single use). */
  refreshOrder: number[];
  refreshNext: number;
  /** The token a family's last rotation in this run gave, for when the order comes round to it again. */
  refreshSuccessors: Map<number, string>;
  /**
   * Families with a rotation sent and not yet answered with a 200. One cut off at the end of a
   * phase (its answer, and so its new token, never read), timed out or refused stays here and is
   * skipped from then on: its old token may be spent, and presenting it again would be reuse.
   */
  refreshPending: Set<number>;
  introspect?: Promise<{ tokens: string[]; revoked: Set<string> }>;
}

/** What each setup's prepare returned, for the purge pass (which gets no context of its own). */
const prepared = new Map<Setup<ScaleData>, ScaleData>();
const random = (n: number) => Math.floor(Math.random() * n);
const credentials = (i: number) => ({ clientId: scaleClient(i), clientSecret: scaleClientSecret(i) });
const has = (text: string) => (body: string) => body.includes(text);

function shuffled(n: number, keep: (i: number) => boolean): number[] {
  const a: number[] = [];
  for (let i = 0; i < n; i++) if (keep(i)) a.push(i);
  for (let i = a.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a;
}

/** Heap bytes per entry of Sigil's client cache, filled with `n` clients of the dataset. */
async function clientCacheEntryBytes(databaseUrl: string, n: number): Promise<number> {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const db = createPostgresDatabase(databaseUrl, { poolSize: 4 });
  try {
    const cache = createClientCache(db, createClientRepository(db), { maxEntries: n });
    await cache.findById(scaleClient(0));
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 1; i <= n; i++) await cache.findById(scaleClient(i));
    gc();
    const bytes = Math.round((process.memoryUsage().heapUsed - before) / n);
    await cache.stop();
    return bytes;
  } finally {
    await db.close();
  }
}

function dataset(name: string, sizes: () => ScaleSizes): Setup<ScaleData> {
  return {
    name,
    database: 'own',
    async prepare({ databaseUrl, log }) {
      const db = createPostgresDatabase(databaseUrl, { poolSize: 3, statementTimeoutMs: 3_600_000 });
      const s = sizes();
      let build: BuildReport;
      try {
        build = await buildScaleDataset(db, s, parseConfig(process.env).argon2, log);
      } finally {
        await db.close();
      }
      log(`${name}: dataset built in ${build.seconds} s (${(build.databaseBytes / 2 ** 30).toFixed(2)} GiB)`);
      const entry = s.clients >= DISTINCT_CLIENTS ? await clientCacheEntryBytes(databaseUrl, DISTINCT_CLIENTS) : undefined;
      if (entry) log(`${name}: a client-cache entry costs about ${entry} bytes of heap`);
      const data: ScaleData = { databaseUrl, build, ...(entry && { clientCacheEntryBytes: entry }), refreshOrder: shuffled(families(s), liveFamily), refreshNext: 0, refreshSuccessors: new Map(), refreshPending: new Set() };
      prepared.set(this as Setup<ScaleData>, data);
      return data;
    },
  };
}

export const SMALL_DATASET = dataset('small dataset', () => SMALL);
export const SCALE_DATASET = dataset('scale dataset', scaledSizes);

const post = (path: string, authorization: string, body: string): autocannon.Request => ({
  method: 'POST',
  path,
  headers: { ...FORM_HEADERS, authorization },
  body,
});

type Builder = (setup: Setup<ScaleData>) => (ctx: BenchContext) => Traffic | Promise<Traffic>;

/** Password logins of random users of the dataset, through one first-party client. */
const passwordLogins: Builder = (setup) => (ctx) => {
  const users = ctx.data(setup).build.sizes.users;
  const auth = basicAuthorization(credentials(0));
  return {
    request: () => ({
      ...post('/token', auth, ''),
      setupRequest: (req) => ({ ...req, body: form({ grant_type: 'password', username: scaleUser(random(users)), password: SCALE_USER_PASSWORD }) }),
    }),
    expect: has('"access_token"'),
  };
};

/** client_credentials from random clients among the first 10,000 (or all of a smaller dataset). */
const clientCredentials: Builder = (setup) => (ctx) => {
  const n = Math.min(DISTINCT_CLIENTS, ctx.data(setup).build.sizes.clients);
  const auths = Array.from({ length: n }, (_, i) => basicAuthorization(credentials(i)));
  const body = form({ grant_type: 'client_credentials', scope: 'read' });
  return {
    request: () => ({ ...post('/token', '', body), setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: auths[random(n)] as string } }) }),
    expect: has('"access_token"'),
  };
};

/** Introspection of random tokens, half of them revoked (RFC 7009), by a resource server of the dataset. */
const introspection: Builder = (setup) => async (ctx) => {
  const data = ctx.data(setup);
  data.introspect ??= (async () => {
    const issuer = credentials(2);
    const tokens = await mapLimit(INTROSPECTED, 16, async () =>
      stringField(await tokenRequest(ctx.sigil.url, issuer, { grant_type: 'client_credentials', scope: 'read' }), 'access_token'),
    );
    const revoked = new Set(tokens.filter((_, i) => i % 2 === 0));
    await mapLimit(revoked.size, 16, async (i) => {
      await postForm(ctx.sigil.url, '/revoke', issuer, { token: tokens[i * 2] as string, token_type_hint: 'access_token' });
    });
    return { tokens, revoked };
  })();
  const { tokens } = await data.introspect;
  const bodies = tokens.map((token) => form({ token, token_type_hint: 'access_token' }));
  const auth = basicAuthorization(credentials(1));
  return {
    request: () => ({
      ...post('/introspect', auth, ''),
      setupRequest: (req) => ({ ...req, body: bodies[random(bodies.length)] as string }),
    }),
    expect: has('"active"'),
  };
};

/**
 * Refresh of random live families, each token once (a rotation spends it): a family that comes
 * round again (the small dataset's, in a long or fast run) is refreshed with the token its last
 * rotation gave, or skipped when that rotation's answer was never read (refreshPending).
 */
const refreshes: Builder = (setup) => (ctx) => {
  const data = ctx.data(setup);
  const clients = data.build.sizes.clients;
  return {
    request: () => {
      let family = 0;
      return {
        ...post('/token', '', ''),
        setupRequest: (req) => {
          for (let tries = 0; ; tries++) {
            if (tries === data.refreshOrder.length) {
              throw new Error('every live family has a rotation unanswered: fewer connections, or a larger BENCH_SCALE_FACTOR');
            }
            family = data.refreshOrder[data.refreshNext++ % data.refreshOrder.length] as number;
            if (!data.refreshPending.has(family)) break;
          }
          data.refreshPending.add(family);
          return {
            ...req,
            headers: { ...req.headers, authorization: basicAuthorization(credentials(family % clients)) },
            body: form({ grant_type: 'refresh_token', refresh_token: data.refreshSuccessors.get(family) ?? scaleRefreshToken(family) }),
          };
        },
        // Only a 200 puts the family back in turn: after any other answer its token may be spent
        // or its family ended, and presenting it again would only repeat the failure.
        onResponse: (status, body) => {
          if (status !== 200) return;
          data.refreshPending.delete(family);
          data.refreshSuccessors.set(family, (JSON.parse(body) as { refresh_token: string }).refresh_token);
        },
      };
    },
    expect: has('"access_token"'),
  };
};

/** One housekeeping pass over the scale dataset's tables, from the bench process, as Sigil's timer runs it. */
async function purgePass(setup: Setup<ScaleData>): Promise<Findings> {
  const data = prepared.get(setup);
  if (!data) throw new Error(`${setup.name} was not prepared`);
  const db = createPostgresDatabase(data.databaseUrl, { poolSize: 2, statementTimeoutMs: 600_000 });
  const started = performance.now();
  let transactions = 0;
  try {
    const counted: Database = {
      ...db,
      transaction: (fn) => {
        transactions++;
        return db.transaction(fn);
      },
    };
    const purged = await createHousekeeping(counted, sigilPurgeTasks(counted, parseConfig(process.env), () => new Date())).runOnce();
    const seconds = (performance.now() - started) / 1000;
    const total = Object.values(purged ?? {}).reduce((a, b) => a + b, 0);
    return {
      target: '',
      summary: [`purge pass during the load: ${total} rows in ${transactions} transactions, ${seconds.toFixed(1)} s (${JSON.stringify(purged)})`],
      failures: purged === undefined ? ['the purge pass did not get the lock'] : [],
      details: { purged, transactions, seconds },
    };
  } finally {
    await db.close();
  }
}

/** The client cache's cost per entry, under the client_credentials row (measured in prepare). */
function clientCacheFindings(setup: Setup<ScaleData>): Findings {
  const bytes = prepared.get(setup)?.clientCacheEntryBytes;
  return {
    target: '',
    summary: [bytes ? `client cache: about ${bytes} bytes of heap per entry (${DISTINCT_CLIENTS} clients cached in the bench process)` : 'client cache: not measured'],
    failures: [],
    details: { clientCacheEntryBytes: bytes },
  };
}

const KINDS: [string, Builder, Scenario['connections']][] = [
  ['password', passwordLogins, 'password'],
  ['client_credentials', clientCredentials, 'http'],
  ['introspect', introspection, 'http'],
  ['refresh', refreshes, 'http'],
];

// Each pair back to back, both datasets' Sigils running all along (the runner starts setups whose
// scenarios interleave together, and keeps each until its last scenario), so that the machine's
// drift between a pair's halves is that of seconds, not of the minutes a dataset build takes: it
// was larger than some of the gaps measured.
export const SCALE_SCENARIOS: Scenario[] = [
  ...KINDS.flatMap(([kind, traffic, connections]): Scenario[] => [
    {
      name: `scale_${kind}_small`,
      groups: ['scale'],
      onlyOnRequest: true,
      setup: SMALL_DATASET as Setup<unknown>,
      connections,
      traffic: traffic(SMALL_DATASET),
    },
    {
      name: `scale_${kind}`,
      groups: ['scale'],
      onlyOnRequest: true,
      setup: SCALE_DATASET as Setup<unknown>,
      connections,
      traffic: traffic(SCALE_DATASET),
      ...(kind === 'client_credentials' && { during: async () => clientCacheFindings(SCALE_DATASET) }),
    },
  ]),
  // Last: the pass deletes the dataset's expired rows (a twentieth of the families, a tenth of the
  // revocations…), which the scenarios before would otherwise have read around.
  {
    name: 'scale_introspect_during_purge',
    groups: ['scale'],
    onlyOnRequest: true,
    setup: SCALE_DATASET as Setup<unknown>,
    connections: 'http',
    traffic: introspection(SCALE_DATASET),
    during: () => purgePass(SCALE_DATASET),
  },
];

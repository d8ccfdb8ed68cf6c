// many_instances (issue 6, item 4): while the load runs on every instance, an operator rotates the
// signing key, a client revokes a token on one instance and an operator disables a client. Each
// change is timed until every instance shows it, against the bound Sigil documents for it; after
// the run, tokens sampled from every instance must verify against the JWKS of every instance and
// introspect active on every instance.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { CLIENT_CACHE_MAX_STALENESS_MS } from '../../src/clients/client-cache.js';
import { type Bound, type Convergence, convergence } from './converge.js';
import { type ClientCredentials, isActive, mapLimit, postForm, stringField, tokenRequest } from './oauth.js';
import type { Findings } from './results.js';
import type { Cluster } from './scenario.js';
import { createClient, type Sigil } from './sigil.js';
import type { Server } from './spawn.js';

const SAMPLE_EVERY_MS = 500;
// A revocation must show at the first probe; probing goes on this long anyway, to tell how late it was.
const REVOCATION_PROBING_MS = 5000;

type Event = 'rotation' | 'revocation' | 'disable';

/** What Sigil promises (docs/operations.md, "Scaling out"; the client cache setting; src/clients/client-cache.ts). */
function bounds(sigil: Sigil): Record<Event, Bound> {
  return {
    rotation: {
      text: `${sigil.keyReloadSeconds} s (NOTIFY at once, SIGIL_KEY_RELOAD_SECONDS at worst)`,
      withinMs: sigil.keyReloadSeconds * 1000,
    },
    revocation: { text: 'at once (a database row: the first probe must show it)', withinMs: REVOCATION_PROBING_MS, firstProbe: true },
    disable: {
      text: `${CLIENT_CACHE_MAX_STALENESS_MS / 1000} s (NOTIFY at once, the client cache's change counter at worst)`,
      withinMs: CLIENT_CACHE_MAX_STALENESS_MS,
    },
  };
}

const urlsOf = (c: Cluster) => c.instances.map((s) => s.url);
const jwksText = async (url: string) => (await fetch(`${url}/.well-known/jwks.json`)).text();
const accessToken = async (url: string, client: ClientCredentials) =>
  stringField(await tokenRequest(url, client, { grant_type: 'client_credentials' }), 'access_token');
const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const keyIds = async (sigil: Sigil) => (JSON.parse(await sigil.cli(['keys', 'list', '--json'])) as { kid: string }[]).map((k) => k.kid);

/** `sigil keys rotate --now`; then every instance must serve the new kid in its JWKS and sign with it. */
async function rotateKey(c: Cluster, bound: Bound) {
  const out = JSON.parse(await c.sigil.cli(['keys', 'rotate', '--now', '--json'])) as { events: { type: string; kid?: string }[] };
  const since = performance.now();
  const created = out.events.filter((e) => e.type === 'created');
  const kid = created[0]?.kid;
  if (!kid) throw new Error(`sigil keys rotate --now created no key: ${JSON.stringify(out.events)}`);
  const seen = await convergence(urlsOf(c), since, bound, async (url) => {
    const [jwks, token] = await Promise.all([jwksText(url), accessToken(url, c.sigil.service)]);
    return (JSON.parse(jwks) as JSONWebKeySet).keys.some((k) => k.kid === kid) && kidOf(token) === kid;
  });
  return { kid, created: created.length, seen };
}

/** A token of the first instance, active everywhere, revoked there; then inactive everywhere. */
async function revokeToken(c: Cluster, bound: Bound): Promise<Convergence> {
  const first = c.instances[0]?.url ?? '';
  const token = await accessToken(first, c.sigil.service);
  const active = await Promise.all(c.instances.map((s) => isActive(s.url, c.sigil.resourceServer, token)));
  if (!active.every(Boolean)) throw new Error(`a fresh token is not active on every instance: ${active.join(', ')}`);
  const revoked = await postForm(first, '/revoke', c.sigil.service, { token });
  if (revoked.status !== 200) throw new Error(`POST /revoke answered ${revoked.status}`);
  const since = performance.now();
  return convergence(urlsOf(c), since, bound, async (url) => !(await isActive(url, c.sigil.resourceServer, token)));
}

/** A client every instance has just served (so it is in every client cache), disabled through the CLI. */
async function disableClient(c: Cluster, client: ClientCredentials, bound: Bound): Promise<Convergence> {
  await Promise.all(c.instances.map((s) => accessToken(s.url, client)));
  await c.sigil.cli(['clients', 'disable', client.clientId, '--json']);
  const since = performance.now();
  return convergence(urlsOf(c), since, bound, async (url) => {
    const { status, body } = await postForm(url, '/token', client, { grant_type: 'client_credentials' });
    return status === 401 && body.error === 'invalid_client';
  });
}

/** A token from every instance every SAMPLE_EVERY_MS until stopped. */
function sampleTokens(c: Cluster) {
  const samples: string[] = [];
  let sampling = true;
  const done = (async () => {
    while (sampling) {
      samples.push(...(await Promise.all(c.instances.map((s) => accessToken(s.url, c.sigil.service)))));
      await sleep(SAMPLE_EVERY_MS);
    }
  })();
  done.catch(() => {}); // reported by stop()
  return {
    stop: async () => {
      sampling = false;
      await done;
      return samples;
    },
  };
}

/** Every sample against the JWKS of every instance, and introspected on every instance. */
async function checkAgreement(c: Cluster, samples: string[]) {
  const bodies = await Promise.all(c.instances.map((s) => jwksText(s.url)));
  const sets = bodies.map((body) => createLocalJWKSet(JSON.parse(body) as JSONWebKeySet));
  let unverified = 0;
  for (const token of samples) {
    for (const set of sets) {
      await jwtVerify(token, set, { issuer: c.sigil.issuer, typ: 'at+jwt' }).catch(() => unverified++);
    }
  }
  const urls = urlsOf(c);
  const active = await mapLimit(samples.length * urls.length, 8, (k) =>
    isActive(urls[k % urls.length] ?? '', c.sigil.resourceServer, samples[Math.floor(k / urls.length)] ?? ''),
  );
  return {
    tokens: samples.length,
    kids: new Set(samples.map(kidOf)).size,
    unverified,
    inactive: active.filter((a) => !a).length,
    sameJwks: new Set(bodies).size === 1,
  };
}

const ms = (v: number | undefined) => (v === undefined ? 'never' : `${Math.round(v)} ms`);

function describe(event: string, shows: string, r: Convergence): string {
  const times = r.instances.map((s) => ms(s.ms)).join(' / ');
  const firstProbe = r.instances.every((s) => s.probes === 1) ? ', at the first probe everywhere' : '';
  return `  ${event}: ${shows} after ${times}${firstProbe}; bound ${r.bound.text}: ${r.pass ? 'met' : 'NOT met'}`;
}

type Agreement = Awaited<ReturnType<typeof checkAgreement>>;

interface Observed {
  instances: Server[];
  bound: Record<Event, Bound>;
  rotation: Awaited<ReturnType<typeof rotateKey>>;
  /** Keys that were not there before the run: right after the rotation, and at the end. */
  keysAdded: { byRotation: string[]; inRun: string[] };
  revocation: Convergence;
  disable: Convergence;
  agreement: Agreement;
}

function findingsOf(o: Observed): Findings {
  const { rotation, keysAdded, revocation, disable, agreement } = o;
  const n = o.instances.length;
  const oneKey = (kids: string[]) => kids.length === 1 && kids[0] === rotation.kid;
  const checks: [boolean, string][] = [
    [rotation.seen.pass, `rotation not on every instance within ${o.bound.rotation.text}`],
    [revocation.pass, 'revocation not seen at once everywhere'],
    [disable.pass, `disabled client not refused everywhere within ${o.bound.disable.text}`],
    [rotation.created === 1 && oneKey(keysAdded.byRotation), `rotate --now added ${keysAdded.byRotation.length} keys`],
    [oneKey(keysAdded.inRun), `${keysAdded.inRun.length} keys added during the run, not one`],
    [agreement.unverified === 0, `${agreement.unverified} verifications failed`],
    [agreement.inactive === 0, `${agreement.inactive} introspections inactive`],
    [agreement.sameJwks, 'the instances serve different JWKS'],
    [agreement.kids >= 2, 'the sampled tokens do not span the rotation'],
  ];
  const checked = agreement.tokens * n;
  return {
    target: `${n} agree (below)`,
    summary: [
      `${n} Sigil processes on one database, the load shared among them. Per instance, from the change to the answer showing it:`,
      describe('key rotation (sigil keys rotate --now)', 'new kid in its JWKS and signing', rotation.seen),
      `    keys added: ${keysAdded.byRotation.length} by the rotation, ${keysAdded.inRun.length} in the whole run`,
      describe('revocation (POST /revoke to instance 1)', 'introspection inactive', revocation),
      describe('client disabled (sigil clients disable)', '/token answers 401 invalid_client', disable),
      `  ${agreement.tokens} tokens sampled across the instances during the run (${agreement.kids} kids): ` +
        `${checked - agreement.unverified}/${checked} verified against each instance's JWKS` +
        `${agreement.sameJwks ? ' (the same on all)' : ' (NOT the same on all)'}, ` +
        `${checked - agreement.inactive}/${checked} introspections active`,
    ],
    failures: checks.filter(([ok]) => !ok).map(([, failure]) => failure),
    details: { instances: o.instances.map((s) => s.url), rotation, keysAdded, revocation, disable, agreement },
  };
}

/**
 * The scenario's events, at a quarter, half and three quarters of the timed run of `seconds`, then
 * the agreement checks once the load has stopped. Times run from the moment the change was made
 * (the CLI command returned, /revoke answered) to the answer that showed it on each instance.
 */
export async function runClusterEvents(c: Cluster, seconds: number): Promise<Findings> {
  const start = performance.now();
  const at = (fraction: number) => sleep(Math.max(0, start + fraction * seconds * 1000 - performance.now()));
  const bound = bounds(c.sigil);
  const sampler = sampleTokens(c);
  try {
    const [keysBefore, dedicated] = await Promise.all([
      keyIds(c.sigil),
      createClient(c.sigil.cli, `bench-disabled-${randomBytes(4).toString('hex')}`, ['--grant', 'client_credentials']),
    ]);
    const added = async () => (await keyIds(c.sigil)).filter((kid) => !keysBefore.includes(kid));
    await at(1 / 4);
    const rotation = await rotateKey(c, bound.rotation);
    const byRotation = await added();
    await at(1 / 2);
    const revocation = await revokeToken(c, bound.revocation);
    await at(3 / 4);
    const disable = await disableClient(c, dedicated, bound.disable);
    await at(1);
    const agreement = await checkAgreement(c, await sampler.stop());
    const keysAdded = { byRotation, inRun: await added() };
    return findingsOf({ instances: c.instances, bound, rotation, keysAdded, revocation, disable, agreement });
  } catch (err) {
    await sampler.stop().catch(() => {});
    return { target: `${c.instances.length} agree`, summary: [], failures: [(err as Error).message], details: {} };
  }
}

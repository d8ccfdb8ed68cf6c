// The one runner: the database, Sigil (the default one, and one per setup the scenarios ask for),
// then every scenario in turn, interleaved with its ceilings when it has any, judged against its
// targets. It returns the results as data; bench/run.ts prints them.
import { fileURLToPath } from 'node:url';
import { type CpuSample, sampleCpu } from './cpu.js';
import { type BenchDatabase, prepareDatabase } from './database.js';
import { interleave } from './interleave.js';
import { judge, type MeasuredCeiling } from './judge.js';
import { runSpreadLoad, type Traffic } from './load.js';
import type { BenchOptions } from './options.js';
import type { BenchResults, Findings, Measured, ScenarioResult } from './results.js';
import { currentRss, sampleRss } from './rss.js';
import { type BenchContext, type Ceiling, type Connections, MAX_RSS_BYTES, type Scenario, type Setup } from './scenario.js';
import { buildSigil, type Seeded, type Sigil, seedSigil, serveSigil } from './sigil.js';
import { type Server, startCeiling } from './spawn.js';
import { machine } from './machine.js';
import { mintAccessTokens } from './traffic.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CEILINGS_DIR = fileURLToPath(new URL('../ceilings/', import.meta.url));

type Log = (msg: string) => void;

// What to undo, last first, however the run ends: servers to stop, databases to drop.
const cleanups: (() => Promise<void>)[] = [];

/** Stops whatever the run left running and drops what it created; safe to call at any time. */
export async function cleanUp(log: Log): Promise<void> {
  for (let fn = cleanups.pop(); fn; fn = cleanups.pop()) {
    await fn().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

/** Undoes `stop` with the rest if the run ends early; the function returned runs it now and forgets it. */
function tracked(stop: () => Promise<void>): () => Promise<void> {
  cleanups.push(stop);
  return async () => {
    const i = cleanups.indexOf(stop);
    if (i >= 0) cleanups.splice(i, 1);
    await stop();
  };
}

function connectionsOf(c: Connections, o: BenchOptions): number {
  return c === 'http' ? o.connections : c === 'password' ? o.passwordConnections : c;
}

/** A Sigil with what its scenarios' traffic builders get. */
interface Target {
  sigil: Sigil;
  ctx: BenchContext;
  stop(): Promise<void>;
}

async function contextOf(sigil: Sigil, o: BenchOptions, log: Log, setup?: Setup, data?: unknown): Promise<BenchContext> {
  const jwksBody = await (await fetch(`${sigil.url}/.well-known/jwks.json`)).text();
  let tokens: Promise<string[]> | undefined;
  return {
    sigil,
    jwksBody,
    connections: o.connections,
    passwordConnections: o.passwordConnections,
    accessTokens: () => {
      if (!tokens) {
        log(`minting ${o.pool} access tokens for introspection on ${sigil.name}`);
        tokens = mintAccessTokens(sigil, o.pool);
      }
      return tokens;
    },
    data: <D>(wanted: Setup<D>) => {
      if (wanted !== setup) throw new Error(`this scenario runs on ${setup?.name ?? 'the default Sigil'}, not on ${wanted.name}`);
      return data as D;
    },
  };
}

/** A setup's Sigil: on a database of its own, or beside the default Sigil on the run's. */
async function startSetup(setup: Setup, main: { seed: Seeded & { cwd: string }; sigil: Sigil }, o: BenchOptions, log: Log, nodeArgs: string[]): Promise<Target> {
  log(`setup ${setup.name}: starting`);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (let stop = stops.pop(); stop; stop = stops.pop()) await stop();
  };
  try {
    let seeded: Seeded & { cwd: string; cleanUp(): void };
    if (setup.database === 'own') {
      // Created even when DATABASE_URL names the run's: through BENCH_ADMIN_DATABASE_URL (or the local server).
      const db: BenchDatabase = await prepareDatabase({ ...process.env, DATABASE_URL: '' });
      stops.push(tracked(db.drop));
      seeded = await seedSigil(db.url, log);
    } else {
      // The default Sigil's folder and clients; its Sigil removes the folder.
      seeded = { ...main.seed, cleanUp: () => {} };
    }
    const data = setup.prepare ? await setup.prepare({ databaseUrl: seeded.databaseUrl, cli: seeded.cli, log }) : undefined;
    const sigil = await serveSigil(seeded, log, {
      name: `Sigil (${setup.name})`,
      env: setup.env ?? {},
      nodeArgs,
      ...(setup.database !== 'own' && { issuer: main.sigil.issuer }),
    });
    stops.push(tracked(sigil.stop));
    return { sigil, ctx: await contextOf(sigil, o, log, setup, data), stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface Load {
  connections: number;
  traffic: () => Traffic | Promise<Traffic>;
}

/**
 * A warm-up run, then the timed run, each with the background load (if any) alongside, spread
 * over the servers, while their RSS is sampled. Traffic is built anew for each phase and server
 * (the refresh chains need it).
 */
async function measureAlone(
  servers: Server[],
  o: BenchOptions,
  { primary, background, during }: { primary: Load; background?: Load & { name: string }; during?: (seconds: number) => Promise<Findings> },
): Promise<Measured> {
  const rss = servers.map((s) => sampleRss(s.pid));
  const urls = servers.map((s) => s.url);
  try {
    const phase = async (seconds: number) => {
      const [primaryTraffic, backgroundTraffic] = await Promise.all([
        Promise.all(servers.map(() => primary.traffic())),
        background && Promise.all(servers.map(() => background.traffic())),
      ]);
      return Promise.all([
        runSpreadLoad(urls, primary.connections, primaryTraffic, seconds),
        backgroundTraffic && background ? runSpreadLoad(urls, background.connections, backgroundTraffic, seconds) : undefined,
      ]);
    };
    if (o.warmup > 0) await phase(o.warmup);
    // Per request only when one server answers one load.
    const cpu: CpuSample | undefined = servers.length === 1 && servers[0] && !background ? sampleCpu(servers[0].pid) : undefined;
    const [[timed, backgroundLoad], findings] = await Promise.all([phase(o.duration), during?.(o.duration)]);
    const used = cpu?.stop();
    const peaks = rss.map((r) => r.stop());
    const known = peaks.filter((p) => p !== undefined);
    return {
      connections: primary.connections,
      load: used ? { ...timed, cpu: used } : timed,
      peakRssBytes: known.length > 0 ? Math.max(...known) : undefined,
      ...(servers.length > 1 && { instancesPeakRssBytes: peaks }),
      ...(background && backgroundLoad && { background: { name: background.name, connections: background.connections, load: backgroundLoad } }),
      ...(findings && { findings }),
    };
  } finally {
    for (const r of rss) r.stop();
  }
}

/** The scenario on Sigil, and on as many more instances of it as the scenario asks for, stopped after. */
async function measureScenario(s: Scenario, { sigil, ctx }: Target, o: BenchOptions): Promise<Measured> {
  const instances: Server[] = [sigil];
  const stops: (() => Promise<void>)[] = [];
  try {
    const started = await Promise.allSettled(Array.from({ length: (s.instances ?? 1) - 1 }, () => sigil.startInstance()));
    for (const r of started) {
      if (r.status === 'fulfilled') {
        stops.push(tracked(r.value.stop));
        instances.push(r.value);
      }
    }
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const { background, during } = s;
    return await measureAlone(instances, o, {
      primary: { connections: connectionsOf(s.connections, o), traffic: () => s.traffic(ctx) },
      ...(background && {
        background: { name: background.name, connections: connectionsOf(background.connections, o), traffic: () => background.traffic(ctx) },
      }),
      ...(during && { during: (seconds: number) => during({ sigil, instances }, seconds) }),
    });
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

/**
 * A scenario with ceilings: Sigil and each ceiling loaded in turn, in interleaved slices (see
 * lib/interleave.ts), the ceilings started for it and stopped after it.
 */
async function measureAgainstCeilings(s: Scenario, defs: Ceiling[], { sigil, ctx }: Target, o: BenchOptions, log: Log, profiled: Profiled) {
  const stops: (() => Promise<void>)[] = [];
  try {
    const servers: Server[] = [];
    for (const def of defs) {
      log(`ceiling ${def.label}: starting bench/ceilings/${def.script}${def.workers ? ` in ${def.workers} processes` : ''}`);
      const server = await startCeiling(`ceiling ${def.label}`, `${CEILINGS_DIR}${def.script}`, {
        env: { ...process.env, ...def.env?.(ctx) },
        cwd: REPO,
        workers: def.workers ?? 1,
        // The same profiler as Sigil's, so a gap can be read function by function.
        nodeArgs: profiled(`-${def.name}`),
      });
      stops.push(tracked(server.stop));
      servers.push(server);
    }
    const contenders = [
      { server: sigil as Server, connections: connectionsOf(s.connections, o), traffic: () => s.traffic(ctx) },
      ...defs.map((def, i) => ({ server: servers[i] as Server, connections: connectionsOf(def.connections, o), traffic: () => def.traffic(ctx) })),
    ];
    const [own, ...theirs] = await interleave(contenders, { seconds: o.duration, slices: o.slices, warmup: o.warmup });
    if (!own) throw new Error('no result for Sigil');
    const measured: Measured = { connections: contenders[0]?.connections ?? 0, load: own.load, peakRssBytes: own.peakRssBytes, slices: own.slices };
    const ceilings = defs.map((def, i): MeasuredCeiling => {
      const r = theirs[i];
      if (!r) throw new Error(`no result for ${def.label}`);
      return { def, result: { name: def.name, label: def.label, scenario: s.name, connections: contenders[i + 1]?.connections ?? 0, ...r } };
    });
    return { measured, ceilings };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

/** node's flags for a process under --cpu-prof (none without it), its profiles in the run's folder + `suffix`. */
type Profiled = (suffix?: string) => string[];

/** The setup of scenario `i`, then every setup used by a scenario between it and the last scenario of any of them. */
function interleavedSetups(scenarios: readonly Scenario[], i: number): Setup[] {
  const lastUse = (setup: Setup) => scenarios.findLastIndex((s) => s.setup === setup);
  const first = scenarios[i]?.setup;
  if (!first) return [];
  const group = [first];
  let end = lastUse(first);
  for (let j = i; j <= end; j++) {
    const setup = scenarios[j]?.setup;
    if (setup && !group.includes(setup)) {
      group.push(setup);
      end = Math.max(end, lastUse(setup));
    }
  }
  return group;
}

/** The ceilings a scenario names, from the list (an unknown name is a mistake in the list). */
function ceilingsOf(s: Scenario, all: readonly Ceiling[]): { main?: Ceiling; also?: Ceiling } {
  const find = (name: string | undefined) => {
    if (name === undefined) return undefined;
    const c = all.find((c) => c.name === name);
    if (!c) throw new Error(`scenario ${s.name} names an unknown ceiling ${name}`);
    return c;
  };
  const main = find(s.ceiling);
  const also = find(s.alsoCeiling);
  return { ...(main && { main }), ...(also && { also }) };
}

export interface RunOptions {
  options: BenchOptions;
  /** The scenarios to run, in order (already selected by --only). */
  scenarios: readonly Scenario[];
  ceilings: readonly Ceiling[];
  /** Where --cpu-prof writes Sigil's profiles. */
  profileDir: string;
  log: Log;
}

export async function runBench({ options: o, scenarios, ceilings: allCeilings, profileDir, log }: RunOptions): Promise<BenchResults> {
  const startedAt = new Date();
  for (const s of scenarios) ceilingsOf(s, allCeilings);
  const database = await prepareDatabase();
  cleanups.push(database.drop);
  log(`database: ${database.label}`);
  await buildSigil(log);
  const seed = await seedSigil(database.url, log);
  const profiled: Profiled = (suffix = '') => (o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}${suffix}`] : []);
  const nodeArgs = profiled();
  const sigil = await serveSigil(seed, log, { nodeArgs });
  cleanups.push(sigil.stop);
  if (o.cpuProf) log(`Sigil's CPU profile goes to ${profileDir} when it stops, each ceiling's to ${profileDir}-<ceiling>`);
  // The baseline under the per-scenario peaks.
  const sigilIdleRssBytes = currentRss(sigil.pid);
  const main: Target = { sigil, ctx: await contextOf(sigil, o, log), stop: async () => {} };

  const setups = new Map<Setup, Promise<Target>>();
  const results: BenchResults['scenarios'] = [];
  const ceilingResults: BenchResults['ceilings'] = [];
  for (const [i, s] of scenarios.entries()) {
    const { setup } = s;
    let target = main;
    if (setup) {
      // Setups whose scenarios interleave with this one's start now too, one after another, so
      // that a pair of scenarios on two setups runs back to back rather than around a dataset build.
      for (const together of interleavedSetups(scenarios, i)) {
        if (!setups.has(together)) {
          setups.set(together, startSetup(together, { seed, sigil }, o, log, nodeArgs));
          await setups.get(together);
        }
      }
      target = await (setups.get(setup) as Promise<Target>);
    }
    const { main: ceiling, also } = ceilingsOf(s, allCeilings);
    const defs = [ceiling, also].filter((c): c is Ceiling => c !== undefined);
    log(`scenario ${s.name}${setup ? ` on ${setup.name}` : ''}${defs.length > 0 ? `, interleaved with ${defs.map((d) => d.label.split(' ')[0]).join(' and ')}` : ''}`);
    let result: ScenarioResult;
    if (defs.length > 0) {
      const { measured, ceilings } = await measureAgainstCeilings(s, defs, target, o, log, profiled);
      ceilingResults.push(...ceilings.map((c) => c.result));
      result = judge(s, measured, ceilings.find((c) => c.def === ceiling), ceilings.find((c) => c.def === also));
    } else {
      result = judge(s, await measureScenario(s, target, o));
    }
    if (setup) result = { ...result, setup: setup.name };
    log(`scenario ${s.name}: ${Math.round(result.load.requestsPerSecond)} req/s, ${result.pass ? 'pass' : `FAIL (${result.failures.join('; ')})`}`);
    results.push(result);
    // A setup's Sigil (and database) goes as soon as no later scenario needs it.
    if (setup && !scenarios.slice(i + 1).some((later) => later.setup === setup)) {
      log(`setup ${setup.name}: stopping`);
      await target.stop();
    }
  }

  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    settings: { ...o, jwksBytes: Buffer.byteLength(main.ctx.jwksBody), argon2: sigil.argon2 },
    sigilIdleRssBytes,
    maxRssBytes: MAX_RSS_BYTES,
    database: database.label,
    scenarios: results,
    ceilings: ceilingResults,
  };
}

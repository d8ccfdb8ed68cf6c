// `npm run bench`: Sigil on PostgreSQL and the ceilings of issue 7, each its own process on
// loopback, loaded in turn by autocannon from this process; one table, and the results as JSON in
// bench/results/. See bench/README.md for what each scenario and ceiling measures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { prepareDatabase } from './lib/database.js';
import { sampleCpu } from './lib/cpu.js';
import { interleave } from './lib/interleave.js';
import { runSpreadLoad, type Traffic } from './lib/load.js';
import { type BenchOptions, parseOptions, USAGE, UsageError } from './lib/options.js';
import { type CeilingResult, type Findings, judge, type Measured, machine, renderReport, type ScenarioResult } from './lib/report.js';
import { currentRss, sampleRss } from './lib/rss.js';
import { type Sigil, startSigil } from './lib/sigil.js';
import { type Server, startCeiling } from './lib/spawn.js';
import {
  type BenchContext,
  CEILINGS,
  type Ceiling,
  type Connections,
  mintAccessTokens,
  SCENARIO_NAMES,
  SCENARIOS,
  type Scenario,
} from './scenarios.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

// As Sigil's Docker image runs it (see bench/README.md); the servers inherit this process's
// environment. An explicit value, even empty, wins.
process.env.MALLOC_ARENA_MAX ??= '1';

// Progress goes to stderr, so that stdout carries only the table (or the JSON with --json).
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// What to undo, last first, however the run ends: servers to stop, the database to drop.
const cleanups: (() => Promise<void>)[] = [];
async function cleanUp(): Promise<void> {
  for (let fn = cleanups.pop(); fn; fn = cleanups.pop()) {
    await fn().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

/** Undoes `stop` with the rest if the run ends early; the function returned runs it now and forgets it. */
function tracked(stop: () => Promise<void>): () => Promise<void> {
  cleanups.push(stop);
  return async () => {
    await stop();
    const i = cleanups.indexOf(stop);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

function connectionsOf(c: Connections, o: BenchOptions): number {
  return c === 'http' ? o.connections : c === 'password' ? o.passwordConnections : c;
}

interface Load {
  connections: number;
  traffic: () => Promise<Traffic>;
}

interface Phases {
  primary: Load;
  background?: Load & { name: string };
  /** Runs alongside the timed run. */
  during?: (seconds: number) => Promise<Findings>;
}

/**
 * A warm-up run, then the timed run, each with the background load (if any) alongside, spread
 * over the servers, while their RSS is sampled. Traffic is built anew for each phase and server
 * (the refresh chains need it).
 */
async function measure(servers: Server[], o: BenchOptions, { primary, background, during }: Phases): Promise<Measured> {
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
    const cpu = servers.length === 1 && servers[0] && !background ? sampleCpu(servers[0].pid) : undefined;
    const [[timed, backgroundLoad], findings] = await Promise.all([phase(o.duration), during?.(o.duration)]);
    const used = cpu?.stop();
    const load = used ? { ...timed, cpu: used } : timed;
    const peaks = rss.map((r) => r.stop());
    const known = peaks.filter((p) => p !== undefined);
    return {
      connections: primary.connections,
      load,
      peakRssBytes: known.length > 0 ? Math.max(...known) : undefined,
      ...(servers.length > 1 && { instancesPeakRssBytes: peaks }),
      ...(background &&
        backgroundLoad && { background: { name: background.name, connections: background.connections, load: backgroundLoad } }),
      ...(findings && { findings }),
    };
  } finally {
    for (const r of rss) r.stop();
  }
}

/** The scenario on Sigil, and on as many more instances of it as the scenario asks for, stopped after. */
async function measureScenario(s: Scenario, sigil: Sigil, ctx: BenchContext, o: BenchOptions): Promise<Measured> {
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
    return await measure(instances, o, {
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

async function startCeilingFor(def: Ceiling, ctx: BenchContext): Promise<Server> {
  log(`ceiling ${def.label}: starting bench/ceilings/${def.script}`);
  return startCeiling(`ceiling ${def.label}`, fileURLToPath(new URL(`./ceilings/${def.script}`, import.meta.url)), {
    env: { ...process.env, ...def.env(ctx) },
    cwd: REPO,
  });
}

/**
 * A scenario with ceilings: Sigil and each ceiling loaded in turn, in interleaved slices (see
 * lib/interleave.ts), the ceilings started for it and stopped after it.
 */
async function measureAgainstCeilings(s: Scenario, defs: Ceiling[], sigil: Sigil, ctx: BenchContext, o: BenchOptions) {
  const stops: (() => Promise<void>)[] = [];
  try {
    const servers: Server[] = [];
    for (const def of defs) {
      const server = await startCeilingFor(def, ctx);
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
    const ceilings = defs.map((def, i): { def: Ceiling; result: CeilingResult } => {
      const r = theirs[i];
      if (!r) throw new Error(`no result for ${def.label}`);
      return {
        def,
        result: { name: def.name, label: def.label, scenario: s.name, connections: contenders[i + 1]?.connections ?? 0, ...r },
      };
    });
    return { measured, ceilings };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

async function bench(o: BenchOptions) {
  const startedAt = new Date();
  const database = await prepareDatabase();
  cleanups.push(database.drop);
  log(`database: ${database.label}`);
  const profileDir = `${RESULTS_DIR}${startedAt.toISOString().replace(/[:.]/g, '-')}-sigil`;
  const sigil: Sigil = await startSigil(database.url, log, {
    nodeArgs: o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  if (o.cpuProf) log(`Sigil's CPU profile goes to ${profileDir} when it stops`);
  cleanups.push(sigil.stop);

  const jwksBody = await (await fetch(`${sigil.url}/.well-known/jwks.json`)).text();
  // The baseline under the per-scenario peaks (bin/sigil.js runs the sources through tsx, whose
  // loader thread is part of it).
  const sigilIdleRssBytes = currentRss(sigil.pid);
  let tokens: Promise<string[]> | undefined;
  const ctx: BenchContext = {
    sigil,
    jwksBody,
    connections: o.connections,
    passwordConnections: o.passwordConnections,
    accessTokens: () => {
      tokens ??= (async () => {
        log(`minting ${o.pool} access tokens for introspection`);
        return mintAccessTokens(sigil, o.pool);
      })();
      return tokens;
    },
  };

  const ceilings: CeilingResult[] = [];
  const scenarios: ScenarioResult[] = [];
  for (const s of SCENARIOS.filter((s) => !o.only || o.only.includes(s.name))) {
    const defs = [s.ceiling, s.alsoCeiling].flatMap((name) => CEILINGS.filter((c) => c.name === name));
    log(`scenario ${s.name}${defs.length > 0 ? `, interleaved with ${defs.map((d) => d.label.split(' ')[0]).join(' and ')}` : ''}`);
    let result: ScenarioResult;
    if (defs.length > 0) {
      const { measured, ceilings: against } = await measureAgainstCeilings(s, defs, sigil, ctx, o);
      ceilings.push(...against.map((c) => c.result));
      result = judge(s, measured, against.find((c) => c.def.name === s.ceiling), against.find((c) => c.def.name === s.alsoCeiling));
    } else {
      result = judge(s, await measureScenario(s, sigil, ctx, o));
    }
    log(`scenario ${s.name}: ${Math.round(result.load.requestsPerSecond)} req/s, ${result.pass ? 'pass' : `FAIL (${result.failures.join('; ')})`}`);
    scenarios.push(result);
  }

  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    settings: { ...o, jwksBytes: Buffer.byteLength(jwksBody), argon2: sigil.argon2 },
    sigilIdleRssBytes,
    database: database.label,
    scenarios,
    ceilings,
  };
}

async function main() {
  let options: BenchOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2), SCENARIO_NAMES);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${USAGE.replace('%SCENARIOS%', SCENARIO_NAMES.join(', '))}\n`);
    process.exitCode = 2;
    return;
  }
  if (!options) {
    process.stdout.write(`${USAGE.replace('%SCENARIOS%', SCENARIO_NAMES.join(', '))}\n`);
    return;
  }
  process.once('SIGINT', () => {
    log('interrupted: stopping the servers');
    void cleanUp().finally(() => process.exit(130));
  });
  try {
    const results = await bench(options);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = `${RESULTS_DIR}${results.startedAt.replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(options.json ? `${JSON.stringify(results, null, 2)}\n` : `${renderReport(results)}\n`);
    log(`results written to ${file}`);
  } finally {
    await cleanUp();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});

// `npm run bench`: Sigil on PostgreSQL and the ceilings of issue 7, each its own process on
// loopback, loaded in turn by autocannon from this process; one table, and the results as JSON in
// bench/results/. See bench/README.md for what each scenario and ceiling measures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { prepareDatabase } from './lib/database.js';
import { runLoad, type Traffic } from './lib/load.js';
import { type BenchOptions, parseOptions, USAGE, UsageError } from './lib/options.js';
import { type CeilingResult, judge, type Measured, machine, renderReport, type ScenarioResult } from './lib/report.js';
import { currentRss, sampleRss } from './lib/rss.js';
import { type Sigil, startSigil } from './lib/sigil.js';
import { type Server, startCeiling } from './lib/spawn.js';
import {
  type BenchContext,
  CEILINGS,
  type Ceiling,
  type CeilingName,
  type Connections,
  mintAccessTokens,
  SCENARIO_NAMES,
  SCENARIOS,
} from './scenarios.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

// Progress goes to stderr, so that stdout carries only the table (or the JSON with --json).
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// What to undo, last first, however the run ends: servers to stop, the database to drop.
const cleanups: (() => Promise<void>)[] = [];
async function cleanUp(): Promise<void> {
  for (let fn = cleanups.pop(); fn; fn = cleanups.pop()) {
    await fn().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

function connectionsOf(c: Connections, o: BenchOptions): number {
  return c === 'http' ? o.connections : c === 'password' ? o.passwordConnections : c;
}

interface Load {
  connections: number;
  traffic: () => Promise<Traffic>;
}

/**
 * A warm-up run, then the timed run, each with the background load (if any) alongside, while the
 * server's RSS is sampled. Traffic is built anew for each phase (the refresh chains need it).
 */
async function measure(server: Server, o: BenchOptions, primary: Load, background?: Load & { name: string }): Promise<Measured> {
  const rss = sampleRss(server.pid);
  try {
    const phase = async (seconds: number) => {
      const [primaryTraffic, backgroundTraffic] = await Promise.all([primary.traffic(), background?.traffic()]);
      return Promise.all([
        runLoad(server.url, primary.connections, primaryTraffic, seconds),
        backgroundTraffic && background ? runLoad(server.url, background.connections, backgroundTraffic, seconds) : undefined,
      ]);
    };
    if (o.warmup > 0) await phase(o.warmup);
    const [load, backgroundLoad] = await phase(o.duration);
    return {
      connections: primary.connections,
      load,
      peakRssBytes: rss.stop(),
      ...(background &&
        backgroundLoad && { background: { name: background.name, connections: background.connections, load: backgroundLoad } }),
    };
  } finally {
    rss.stop();
  }
}

async function measureCeiling(def: Ceiling, ctx: BenchContext, o: BenchOptions): Promise<CeilingResult> {
  log(`ceiling ${def.label}: starting bench/ceilings/${def.script}`);
  const server = await startCeiling(`ceiling ${def.label}`, fileURLToPath(new URL(`./ceilings/${def.script}`, import.meta.url)), {
    env: { ...process.env, ...def.env(ctx) },
    cwd: REPO,
  });
  cleanups.push(server.stop);
  try {
    const connections = connectionsOf(def.connections, o);
    const measured = await measure(server, o, { connections, traffic: () => def.traffic(ctx) });
    log(`ceiling ${def.label}: ${Math.round(measured.load.requestsPerSecond)} req/s`);
    return { name: def.name, label: def.label, ...measured };
  } finally {
    await server.stop();
    cleanups.splice(cleanups.indexOf(server.stop), 1);
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

  const ceilings = new Map<CeilingName, CeilingResult>();
  const scenarios: ScenarioResult[] = [];
  for (const s of SCENARIOS.filter((s) => !o.only || o.only.includes(s.name))) {
    const ceilingDef = CEILINGS.find((c) => c.name === s.ceiling);
    // Each ceiling once per run, just before the first scenario that needs it.
    if (ceilingDef && !ceilings.has(ceilingDef.name)) ceilings.set(ceilingDef.name, await measureCeiling(ceilingDef, ctx, o));
    log(`scenario ${s.name}`);
    const background = s.background;
    const measured = await measure(
      sigil,
      o,
      { connections: connectionsOf(s.connections, o), traffic: () => s.traffic(ctx) },
      background && {
        name: background.name,
        connections: connectionsOf(background.connections, o),
        traffic: () => background.traffic(ctx),
      },
    );
    const ceilingResult = ceilingDef && ceilings.get(ceilingDef.name);
    const result = judge(s, measured, ceilingDef && ceilingResult ? { def: ceilingDef, result: ceilingResult } : undefined);
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
    ceilings: [...ceilings.values()],
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

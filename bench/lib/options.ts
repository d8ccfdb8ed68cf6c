// Command-line flags of `npm run bench`.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Seconds of each timed run. */
  duration: number;
  /** Seconds of untimed load before each timed run (JIT, connection pools, caches warm up). */
  warmup: number;
  /** Slices per server when a scenario is interleaved with its ceilings. */
  slices: number;
  connections: number;
  passwordConnections: number;
  /** Distinct access tokens cycled by the introspection scenarios. */
  pool: number;
  only: string[] | undefined;
  json: boolean;
  /** Run Sigil under `node --cpu-prof`, writing its profile into bench/results/. */
  cpuProf: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --duration <s>               seconds each server is loaded per scenario (default 8: about 3 minutes in all)
  --warmup <s>                 seconds of warm-up before each timed run (default: duration/10, 1 to 2)
  --slices <n>                 a scenario and its ceilings take turns in n slices each (default 4)
  --connections <n>            concurrent connections (default 50)
  --password-connections <n>   connections of the password scenarios (default 8)
  --pool <n>                   distinct access tokens for introspection (default 5000)
  --only <a,b>                 run only these scenarios or groups (and their ceilings): %SCENARIOS%
                               (without --only: all but %ON_REQUEST%)
  --json                       print the results as JSON instead of the table
  --cpu-prof                   profile Sigil and its ceilings (node --cpu-prof) into bench/results/<timestamp>-sigil[-<ceiling>]/
  -h, --help

PostgreSQL: DATABASE_URL when set (used as is); otherwise a fresh database sigil_bench_<random> is
created through BENCH_ADMIN_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and
dropped at the end. Results are also written to bench/results/<timestamp>.json.`;

export class UsageError extends Error {}

function positive(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number ≥ ${min} (got ${JSON.stringify(value)})`);
  return n;
}

/** `scenarios`: every name --only accepts (scenarios and groups). Returns undefined when help was asked for. */
export function parseOptions(argv: string[], scenarios: readonly string[]): BenchOptions | undefined {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  const duration = positive('duration', values.duration, 8);
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((s) => !scenarios.includes(s)) ?? [];
  if (unknown.length > 0) throw new UsageError(`unknown scenario or group ${unknown.join(', ')}; known: ${scenarios.join(', ')}`);
  if (only?.length === 0) throw new UsageError('--only needs at least one scenario');
  return {
    duration,
    warmup: positive('warmup', values.warmup, Math.min(2, Math.max(1, duration / 10)), 0),
    slices: Math.floor(positive('slices', values.slices, 4)),
    connections: Math.floor(positive('connections', values.connections, 50)),
    passwordConnections: Math.floor(positive('password-connections', values['password-connections'], 8)),
    pool: Math.floor(positive('pool', values.pool, 5000)),
    only,
    json: values.json ?? false,
    cpuProf: values['cpu-prof'] ?? false,
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      slices: { type: 'string' },
      connections: { type: 'string' },
      'password-connections': { type: 'string' },
      pool: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

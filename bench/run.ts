// `npm run bench`: flags → the runner (lib/runner.ts) over the scenarios of bench/scenarios.ts →
// one table on stdout (or the JSON with --json), the JSON also in bench/results/. What each
// scenario and ceiling measures: bench/README.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BenchOptions, parseOptions, USAGE, UsageError } from './lib/options.js';
import { renderReport } from './lib/report.js';
import { cleanUp, runBench } from './lib/runner.js';
import { onRequestNames, selectableNames, selectScenarios } from './lib/scenario.js';
import { compareScale } from './scale/compare.js';
import { CEILINGS, SCENARIOS } from './scenarios.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

// As Sigil's Docker image runs it (see bench/README.md); the servers inherit this process's
// environment. An explicit value, even empty, wins.
process.env.MALLOC_ARENA_MAX ??= '1';

// Progress goes to stderr, so that stdout carries only the table (or the JSON with --json).
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const stamp = (d: Date | string) => (typeof d === 'string' ? d : d.toISOString()).replace(/[:.]/g, '-');

async function main() {
  const names = selectableNames(SCENARIOS);
  const usage = USAGE.replace('%SCENARIOS%', names.join(', ')).replace('%ON_REQUEST%', onRequestNames(SCENARIOS).join(', ') || 'none');
  let options: BenchOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2), names);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${usage}\n`);
    process.exitCode = 2;
    return;
  }
  if (!options) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  process.once('SIGINT', () => {
    log('interrupted: stopping the servers');
    void cleanUp(log).finally(() => process.exit(130));
  });
  try {
    const results = await runBench({
      options,
      scenarios: selectScenarios(SCENARIOS, options.only),
      ceilings: CEILINGS,
      profileDir: `${RESULTS_DIR}${stamp(new Date())}-sigil`,
      log,
    });
    compareScale(results);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = `${RESULTS_DIR}${stamp(results.startedAt)}.json`;
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(options.json ? `${JSON.stringify(results, null, 2)}\n` : `${renderReport(results)}\n`);
    log(`results written to ${file}`);
  } finally {
    await cleanUp(log);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});

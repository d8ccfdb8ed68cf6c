// Issue 16's targets for the scale scenarios: each large figure against the same scenario on the
// small dataset in the same run (≥ 0.9 of its requests/s, p99 ≤ 2 × its p99), and the purge
// scenario's p99 against the plain large introspection. The runner judges the RSS budget.
import type { BenchResults, ScenarioResult } from '../lib/results.js';

export const MIN_SCALE_RATIO = 0.9;
export const MAX_SCALE_P99_FACTOR = 2;

function against(big: ScenarioResult, small: ScenarioResult, label: string, minRatio: number | undefined) {
  const ratio = big.load.requestsPerSecond / small.load.requestsPerSecond;
  // autocannon's latencies are whole milliseconds: a 0 ms p99 counts as 1.
  const p99 = big.load.p99Ms / Math.max(small.load.p99Ms, 1);
  big.ceiling = { name: small.name, label, requestsPerSecond: small.load.requestsPerSecond };
  big.ratio = ratio;
  const targets = [minRatio !== undefined && `≥${minRatio}×(s)`, `p99≤${MAX_SCALE_P99_FACTOR}×(s)`].filter(Boolean);
  big.target = [big.target, ...targets].filter((t) => t && t !== '—').join(', ');
  if (minRatio !== undefined && ratio < minRatio) big.failures.push(`${ratio.toFixed(2)} × ${small.name} (< ${minRatio})`);
  if (p99 > MAX_SCALE_P99_FACTOR) big.failures.push(`p99 ${big.load.p99Ms} ms = ${p99.toFixed(1)} × ${small.name}'s`);
  big.pass = big.failures.length === 0;
}

/** Adds the comparisons to the results of a run that had the scale scenarios (a no-op otherwise). */
export function compareScale(results: BenchResults): void {
  const byName = new Map(results.scenarios.map((s) => [s.name, s]));
  for (const big of results.scenarios) {
    const small = byName.get(`${big.name}_small`);
    if (big.name.startsWith('scale_') && small) against(big, small, '(s) the same scenario on the small dataset', MIN_SCALE_RATIO);
  }
  const during = byName.get('scale_introspect_during_purge');
  const plain = byName.get('scale_introspect');
  if (during && plain) against(during, plain, '(s) scale_introspect without a purge', undefined);
}

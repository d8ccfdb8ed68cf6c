// A scenario's measurements against its targets: pass or fail, and why. Pure, so test/bench tests it.
import type { LoadResult } from './load.js';
import type { CeilingResult, Measured, ScenarioResult } from './results.js';
import { type Ceiling, MAX_RSS_BYTES, type Scenario } from './scenario.js';

const MB = 1024 * 1024;

export type Targets = Pick<Scenario, 'name' | 'minRatio' | 'maxP99Ms'>;
export interface MeasuredCeiling {
  def: Pick<Ceiling, 'name' | 'label'>;
  result: CeilingResult;
}

function failedAnswers(load: LoadResult, prefix = ''): string[] {
  const failures: string[] = [];
  if (load.non2xx > 0) failures.push(`${prefix}${load.non2xx} non-2xx`);
  if (load.errors > 0) failures.push(`${prefix}${load.errors} errors`);
  if (load.wrongAnswers > 0) failures.push(`${prefix}${load.wrongAnswers} wrong answers`);
  if (load.requests === 0) failures.push(`${prefix}no answer`);
  return failures;
}

function describeTarget(s: Targets, ceiling: MeasuredCeiling | undefined, m: Measured): string {
  const parts: string[] = m.findings ? [m.findings.target] : [];
  // The ceiling's letter, e.g. ≥0.9×(b).
  if (s.minRatio !== undefined && ceiling) parts.push(`≥${s.minRatio}×${ceiling.def.label.split(' ')[0]}`);
  if (s.maxP99Ms !== undefined) parts.push(`p99≤${s.maxP99Ms}ms`);
  return parts.join(', ') || '—';
}

const summarize = ({ def, result }: MeasuredCeiling) => ({ name: def.name, label: def.label, requestsPerSecond: result.load.requestsPerSecond });

/**
 * Every target of the scenario, plus the ones that hold for all: no failed answer (in the load
 * alongside too), peak RSS ≤ MAX_RSS_BYTES; and whatever the scenario's own checks found.
 */
export function judge(s: Targets, m: Measured, ceiling?: MeasuredCeiling, also?: MeasuredCeiling): ScenarioResult {
  const { load } = m;
  const failures = failedAnswers(load);
  if (m.background) failures.push(...failedAnswers(m.background.load, `${m.background.name}: `));
  const ratio = ceiling ? load.requestsPerSecond / ceiling.result.load.requestsPerSecond : undefined;
  if (s.minRatio !== undefined && ratio !== undefined && ratio < s.minRatio) failures.push(`ratio < ${s.minRatio}`);
  if (s.maxP99Ms !== undefined && load.p99Ms > s.maxP99Ms) failures.push(`p99 > ${s.maxP99Ms} ms`);
  if (m.peakRssBytes !== undefined && m.peakRssBytes > MAX_RSS_BYTES) failures.push(`RSS > ${MAX_RSS_BYTES / MB} MB`);
  if (m.findings) failures.push(...m.findings.failures);
  return {
    name: s.name,
    ...m,
    ...(ceiling && { ceiling: summarize(ceiling) }),
    ...(ratio !== undefined && { ratio }),
    ...(also && { alsoCeiling: { ...summarize(also), ratio: load.requestsPerSecond / also.result.load.requestsPerSecond } }),
    target: describeTarget(s, ceiling, m),
    failures,
    pass: failures.length === 0,
  };
}

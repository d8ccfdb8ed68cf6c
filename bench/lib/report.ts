// Judging measured runs against the targets, and presenting them: the table and the JSON document.
import os from 'node:os';
import type { Ceiling, Scenario } from '../scenarios.js';
import { MAX_RSS_BYTES } from '../scenarios.js';
import type { LoadResult } from './load.js';
import { num, renderTable } from './table.js';

/** What a scenario's own checks found, beside the load (many_instances: agreement across instances). */
export interface Findings {
  /** What the table's target column says. */
  target: string;
  /** Lines under the table. */
  summary: string[];
  failures: string[];
  /** The measurements, for the JSON document. */
  details: Record<string, unknown>;
}

export interface Measured {
  connections: number;
  load: LoadResult;
  /** Peak RSS of the server under test during the scenario, warm-up included (the largest instance's). */
  peakRssBytes: number | undefined;
  /** Each instance's, when the scenario runs several. */
  instancesPeakRssBytes?: (number | undefined)[];
  background?: { name: string; connections: number; load: LoadResult };
  findings?: Findings;
  /** requests/s of each interleaved slice (scenarios measured against ceilings). */
  slices?: number[];
}

export interface CeilingResult extends Measured {
  name: string;
  label: string;
  /** The scenario it was interleaved with. */
  scenario: string;
}

export interface ScenarioResult extends Measured {
  name: string;
  ceiling?: { name: string; label: string; requestsPerSecond: number };
  ratio?: number;
  /** The second ceiling, for information (no target). */
  alsoCeiling?: { name: string; label: string; requestsPerSecond: number; ratio: number };
  target: string;
  failures: string[];
  pass: boolean;
}

const MB = 1024 * 1024;

function describeTarget(s: Scenario, ceiling: Ceiling | undefined, findings: Findings | undefined): string {
  const parts: string[] = findings ? [findings.target] : [];
  if (s.minRatio !== undefined && ceiling) parts.push(`≥${s.minRatio}×${ceiling.label.slice(0, 3)}`);
  if (s.maxP99Ms !== undefined) parts.push(`p99≤${s.maxP99Ms}ms`);
  return parts.join(', ') || '—';
}

function failedAnswers(load: LoadResult, prefix = ''): string[] {
  const failures: string[] = [];
  if (load.non2xx > 0) failures.push(`${prefix}${load.non2xx} non-2xx`);
  if (load.errors > 0) failures.push(`${prefix}${load.errors} errors`);
  if (load.wrongAnswers > 0) failures.push(`${prefix}${load.wrongAnswers} wrong answers`);
  if (load.requests === 0) failures.push(`${prefix}no answer`);
  return failures;
}

/**
 * Every target of the scenario, plus the ones that hold for all: no failed answer (in the load
 * alongside too), RSS ≤ 150 MB; and whatever the scenario's own checks found.
 */
type MeasuredCeiling = { def: Ceiling; result: CeilingResult };
const summarize = ({ def, result }: MeasuredCeiling) => ({ name: def.name, label: def.label, requestsPerSecond: result.load.requestsPerSecond });

export function judge(s: Scenario, m: Measured, ceiling?: MeasuredCeiling, also?: MeasuredCeiling): ScenarioResult {
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
    target: describeTarget(s, ceiling?.def, m.findings),
    failures,
    pass: failures.length === 0,
  };
}

const COLUMNS = [
  { title: 'scenario' },
  { title: 'conns', align: 'right' },
  { title: 'req/s', align: 'right' },
  { title: 'p50 ms', align: 'right' },
  { title: 'p99 ms', align: 'right' },
  { title: 'CPU µs/req', align: 'right' },
  { title: 'non-2xx', align: 'right' },
  { title: 'err/wrong', align: 'right' },
  { title: 'ceiling' },
  { title: 'ratio', align: 'right' },
  { title: 'target' },
  { title: 'RSS MB', align: 'right' },
  { title: 'result' },
] as const;

/** CPU per request: the server's, plus PostgreSQL's when it did any work (Sigil's scenarios). */
function cpuPerRequest({ cpu, requests }: LoadResult): string {
  if (!cpu || requests === 0) return 'n/a';
  const us = (seconds: number) => Math.round((seconds * 1e6) / requests);
  return cpu.postgres * 1e6 >= requests ? `${us(cpu.server)}+${us(cpu.postgres)}` : String(us(cpu.server));
}

const cells = (m: Measured) => [
  String(m.connections),
  num(m.load.requestsPerSecond),
  num(m.load.p50Ms, 0),
  num(m.load.p99Ms, 0),
  cpuPerRequest(m.load),
  String(m.load.non2xx),
  `${m.load.errors}/${m.load.wrongAnswers}`,
];
const rss = (m: Measured) => (m.peakRssBytes === undefined ? 'n/a' : num(m.peakRssBytes / MB, 0));

export function renderReport({
  scenarios,
  ceilings,
  sigilIdleRssBytes,
}: {
  scenarios: ScenarioResult[];
  ceilings: CeilingResult[];
  sigilIdleRssBytes: number | undefined;
}): string {
  const rows: (string[] | 'separator')[] = [];
  for (const s of scenarios) {
    rows.push([
      s.name,
      ...cells(s),
      s.ceiling?.label ?? '—',
      num(s.ratio, 2),
      s.target,
      rss(s),
      s.pass ? 'pass' : `FAIL: ${s.failures.join('; ')}`,
    ]);
    if (s.background) {
      rows.push([`  + ${s.background.name} alongside`, ...cells({ ...s.background, peakRssBytes: undefined }), '', '', '', '', '']);
    }
  }
  if (ceilings.length > 0) rows.push('separator');
  for (const c of ceilings) rows.push([`ceiling ${c.label.split(' ')[0]} with ${c.scenario}`, ...cells(c), c.label, '', '', rss(c), '']);
  const perInstance = (s: ScenarioResult) =>
    s.instancesPeakRssBytes ? [`  peak RSS per instance: ${s.instancesPeakRssBytes.map((b) => (b === undefined ? 'n/a' : num(b / MB, 0))).join(' / ')} MB`] : [];
  const findings = scenarios.flatMap((s) => (s.findings ? ['', `${s.name}:`, ...s.findings.summary, ...perInstance(s)] : []));
  const also = scenarios.flatMap((s) => (s.alsoCeiling ? [`  ${s.name}: ${num(s.alsoCeiling.ratio, 2)} × ${s.alsoCeiling.label}`] : []));
  return [
    renderTable([...COLUMNS], rows),
    ...(also.length > 0
      ? ['', 'For information, against ceilings that sign and verify as Sigil does (node:crypto; the targets use jose, as issue 7 says):', ...also]
      : []),
    ...findings,
    '',
    'CPU µs/req: CPU time per answer of the server under test (+ PostgreSQL\'s, all its processes, where it worked),',
    'from /proc over the timed run: steadier than req/s on a shared machine, and it shows where the time goes.',
    'Every scenario must also answer only 2xx with the expected body (err/wrong = connection errors and timeouts /',
    `2xx with an unexpected body) and keep Sigil's peak RSS (each instance's) ≤ ${MAX_RSS_BYTES / MB} MB. Ceiling rows show the ceiling process's RSS;`,
    `Sigil's RSS idle after start-up was ${sigilIdleRssBytes === undefined ? 'n/a' : `${num(sigilIdleRssBytes / MB, 0)} MB`}.`,
  ].join('\n');
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    loadAverageAtStart: os.loadavg(),
  };
}

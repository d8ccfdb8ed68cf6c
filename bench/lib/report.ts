// The table and the notes under it, from a run's results. It knows the results' shape only, not
// how scenarios are declared or measured.
import type { LoadResult } from './load.js';
import type { BenchResults, Measured, ScenarioResult } from './results.js';
import { num, renderTable } from './table.js';

const MB = 1024 * 1024;

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

export function renderReport({ scenarios, ceilings, sigilIdleRssBytes, maxRssBytes }: BenchResults): string {
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
      ? ['', 'For information, against a second ceiling (node:crypto, as Sigil signs and verifies; the targets use jose, as issue 7 says):', ...also]
      : []),
    ...findings,
    '',
    'CPU µs/req: CPU time per answer of the server under test (+ PostgreSQL\'s, all its processes, where it worked),',
    'from /proc over the timed run: steadier than req/s on a shared machine, and it shows where the time goes.',
    'Every scenario must also answer only 2xx with the expected body (err/wrong = connection errors and timeouts /',
    `2xx with an unexpected body) and keep Sigil's peak RSS (each instance's) ≤ ${maxRssBytes / MB} MB. Ceiling rows show the ceiling process's RSS;`,
    `Sigil's RSS idle after start-up was ${sigilIdleRssBytes === undefined ? 'n/a' : `${num(sigilIdleRssBytes / MB, 0)} MB`}.`,
  ].join('\n');
}

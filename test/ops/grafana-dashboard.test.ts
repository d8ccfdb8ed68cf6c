import { readFileSync } from 'node:fs';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';

interface Datasource {
  type?: string;
  uid?: string;
}
interface Panel {
  type: string;
  title: string;
  datasource?: Datasource;
  targets?: Array<{ expr: string; datasource?: Datasource }>;
}
interface Dashboard {
  uid: string;
  title: string;
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  templating: { list: Array<{ name: string; query: string; datasource?: Datasource }> };
  panels: Panel[];
}

const dashboard: Dashboard = JSON.parse(readFileSync(new URL('../../src/ops/grafana-dashboard.json', import.meta.url), 'utf8'));
/** The data source chosen at import: Grafana replaces the literal `${DS_PROMETHEUS}` with it. */
const PROMETHEUS = { type: 'prometheus', uid: `\${DS_PROMETHEUS}` };
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const targets = panels.flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p.title, ...target })));

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names in a PromQL expression: what is left once strings, label matchers, ranges, grouping and functions are gone. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}|\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/(?<![\w:.$])[a-zA-Z_:][\w:]*(?![\w:]|\s*\()/g)].map(([name]) => name).filter((n) => !KEYWORDS.has(n));
}

/** Every series name a /metrics text can have: each family, a histogram's _bucket, _count and _sum, and each sample's name. */
function exposedNames(text: string): Set<string> {
  const suffixes: Record<string, string[]> = { histogram: ['_bucket', '_count', '_sum'], summary: ['_count', '_sum'] };
  const names = new Set<string>();
  for (const [, name = '', type = ''] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    for (const suffix of suffixes[type] ?? []) names.add(name + suffix);
  }
  for (const [, name = ''] of text.matchAll(/^([a-zA-Z_:][\w:]*)[{ ]/gm)) names.add(name);
  return names;
}

t.test('the dashboard imports with a Prometheus data source chosen at import, and job and instance variables', async (t) => {
  t.match(dashboard, { uid: /^[\w-]{1,40}$/, title: /\S/ });
  t.match(dashboard.__inputs, [{ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }]);
  t.same(dashboard.templating.list.map((v) => v.name), ['job', 'instance']);
  for (const v of dashboard.templating.list) t.same(v.datasource, PROMETHEUS, `variable ${v.name} uses the imported data source`);
  t.ok(panels.length > 0, 'has panels');
  for (const p of panels) {
    t.same(p.datasource, PROMETHEUS, `${p.title}: the imported data source`);
    t.ok(p.targets?.length, `${p.title}: has queries`);
  }
  for (const { panel, expr, datasource } of targets) {
    t.same(datasource, PROMETHEUS, `${panel}: each query uses the imported data source`);
    t.match(expr, /\{job="\$job", instance=~"\$instance"/, `${panel}: ${expr} follows the job and instance variables`);
  }
});

t.test('every metric the dashboard queries is one /metrics serves', async (t) => {
  const queries = [
    ...targets.map((q) => ({ where: q.panel, expr: q.expr })),
    ...dashboard.templating.list.map((v) => ({ where: `variable ${v.name}`, expr: v.query.replace(/^label_values\((.*),\s*\w+\)$/, '$1') })),
  ];
  const { app } = await buildTestApp(t);
  const res = await app.inject({ url: '/metrics' });
  t.equal(res.statusCode, 200);
  const exposed = exposedNames(res.body);
  for (const { where, expr } of queries) {
    const names = metricNames(expr);
    t.ok(names.length > 0, `${where}: ${expr} names a metric`);
    for (const name of names) t.ok(exposed.has(name), `${where}: ${name} is in /metrics`);
  }
});

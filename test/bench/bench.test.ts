// The bench's pure parts: the declared list, --only's selection, the judging of a measurement and
// the pool of pre-signed JWTs. The bench itself is run by `npm run bench`, never from the tests.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { mergeSlices } from '../../bench/lib/interleave.js';
import { judge } from '../../bench/lib/judge.js';
import type { LoadResult } from '../../bench/lib/load.js';
import { MAX_RSS_BYTES, onRequestNames, selectableNames, selectScenarios } from '../../bench/lib/scenario.js';
import { presigned } from '../../bench/lib/traffic.js';
import { CEILINGS, SCENARIOS } from '../../bench/scenarios.js';

const load = (o: Partial<LoadResult> = {}): LoadResult => ({
  requestsPerSecond: 1000,
  p50Ms: 5,
  p99Ms: 10,
  maxMs: 20,
  requests: 10_000,
  non2xx: 0,
  errors: 0,
  wrongAnswers: 0,
  durationSeconds: 10,
  ...o,
});
const ceiling = (rps: number) => ({
  def: { name: 'sign', label: '(b) form+Basic+ES256 sign' },
  result: { name: 'sign', label: '(b) form+Basic+ES256 sign', scenario: 'x', connections: 50, load: load({ requestsPerSecond: rps }), peakRssBytes: 1 },
});

t.test('the list: unique names, known ceilings, and a default run without the on-request groups', async (t) => {
  const names = SCENARIOS.map((s) => s.name);
  t.equal(new Set(names).size, names.length, 'scenario names are unique');
  t.equal(new Set(CEILINGS.map((c) => c.name)).size, CEILINGS.length, 'ceiling names are unique');
  const known = new Set(CEILINGS.map((c) => c.name));
  for (const s of SCENARIOS) {
    for (const c of [s.ceiling, s.alsoCeiling]) if (c !== undefined) t.ok(known.has(c), `${s.name}: ceiling ${c} exists`);
    if (s.minRatio !== undefined) t.ok(s.ceiling, `${s.name}: a ratio target has a ceiling`);
  }
  for (const n of ['client_credentials_private_key_jwt', 'client_credentials_workers_2', 'introspect_workers_1']) t.ok(names.includes(n), n);
  const defaults = selectScenarios(SCENARIOS, undefined).map((s) => s.name);
  t.ok(defaults.includes('client_credentials_private_key_jwt'), 'private_key_jwt is in the default run');
  t.notOk(defaults.some((n) => n.includes('workers')), 'the workers group is not');
  t.same(onRequestNames(SCENARIOS), ['workers', 'scale']);
  t.ok(selectableNames(SCENARIOS).includes('scale'), '--only scale selects the scale set');
  t.ok(selectableNames(SCENARIOS).includes('workers'), '--only accepts the group');
});

t.test('--only selects by name and by group, in the order of the list', async (t) => {
  const list = [
    { name: 'a' },
    { name: 'b', groups: ['g'], onlyOnRequest: true },
    { name: 'c', groups: ['g', 'h'] },
  ];
  t.same(selectScenarios(list, undefined).map((s) => s.name), ['a', 'c']);
  t.same(selectScenarios(list, ['g']).map((s) => s.name), ['b', 'c']);
  t.same(selectScenarios(list, ['c', 'a']).map((s) => s.name), ['a', 'c']);
  t.same(selectScenarios(list, ['h', 'b']).map((s) => s.name), ['b', 'c']);
  t.same(selectableNames(list), ['a', 'b', 'c', 'g', 'h']);
});

t.test('judge: a ratio under its target, failed answers, RSS over budget, p99', async (t) => {
  const m = { connections: 50, load: load(), peakRssBytes: 100 * 1024 * 1024 };
  const pass = judge({ name: 's', minRatio: 0.9 }, m, ceiling(1000));
  t.equal(pass.pass, true);
  t.equal(pass.ratio, 1);
  t.equal(pass.target, '≥0.9×(b)');

  const slow = judge({ name: 's', minRatio: 0.9 }, m, ceiling(2000));
  t.same(slow.failures, ['ratio < 0.9']);
  t.equal(slow.ratio, 0.5);

  const info = judge({ name: 's' }, m, ceiling(2000));
  t.equal(info.pass, true, 'without minRatio the ratio is for information');
  t.equal(info.target, '—');

  const bad = judge(
    { name: 's', maxP99Ms: 5 },
    {
      ...m,
      load: load({ non2xx: 3, errors: 1, wrongAnswers: 2 }),
      peakRssBytes: MAX_RSS_BYTES + 1,
      background: { name: 'password', connections: 8, load: load({ requests: 0 }) },
    },
  );
  t.same(bad.failures, ['3 non-2xx', '1 errors', '2 wrong answers', 'password: no answer', 'p99 > 5 ms', 'RSS > 150 MB']);
  t.equal(bad.pass, false);
});

t.test('mergeSlices adds requests and time, weighs p50, keeps the worst p99', async (t) => {
  const merged = mergeSlices([load({ requests: 1000, durationSeconds: 1, p50Ms: 2, p99Ms: 9 }), load({ requests: 3000, durationSeconds: 1, p50Ms: 6, p99Ms: 7 })]);
  t.equal(merged.requests, 4000);
  t.equal(merged.requestsPerSecond, 2000);
  t.equal(merged.p50Ms, 5);
  t.equal(merged.p99Ms, 9);
});

t.test('pre-signed pool: tops up only what was used or is too old, never hands one out twice', async (t) => {
  let made = 0;
  const pool = presigned(3, 1000, () => `jwt-${++made}`);
  pool.topUp(0);
  t.equal(made, 3);
  const first = [pool.take(), pool.take()];
  pool.topUp(500);
  t.equal(made, 5, 'the two used are replaced, the unused one kept');
  const next = [pool.take(), pool.take(), pool.take()];
  t.equal(new Set([...first, ...next]).size, 5, 'each one once');
  pool.topUp(600);
  pool.topUp(2000);
  t.equal(made, 11, 'too old ones are signed again');
});

t.test('bench/ has no import circle, and the report knows nothing of how scenarios are declared', async (t) => {
  const root = fileURLToPath(new URL('../../bench/', import.meta.url));
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const deps = new Map(
    files.map((f) => [
      normalize(f),
      [...readFileSync(join(root, f), 'utf8').matchAll(/from '(\.[^']+)\.js'/g)].map((m) => normalize(join(dirname(f), `${m[1]}.ts`))),
    ]),
  );
  const circles: string[] = [];
  const walk = (file: string, path: string[]) => {
    for (const next of deps.get(file) ?? []) {
      if (path.includes(next)) circles.push([...path.slice(path.indexOf(next)), next].join(' -> '));
      else walk(next, [...path, next]);
    }
  };
  for (const f of deps.keys()) walk(f, [f]);
  t.same([...new Set(circles)], [], 'no circle');
  t.same(deps.get('lib/report.ts')?.sort(), ['lib/load.ts', 'lib/results.ts', 'lib/table.ts']);
});

t.test('scale: each large figure against its small one, the purge run against plain introspection', async (t) => {
  const { compareScale } = await import('../../bench/scale/compare.js');
  const result = (name: string, o: Partial<LoadResult>) => judge({ name }, { connections: 50, load: load(o), peakRssBytes: 1 });
  const scenarios = [
    result('scale_refresh_small', { requestsPerSecond: 1000, p99Ms: 10 }),
    result('scale_introspect_small', { requestsPerSecond: 1000, p99Ms: 10 }),
    result('scale_refresh', { requestsPerSecond: 850, p99Ms: 21 }),
    result('scale_introspect', { requestsPerSecond: 950, p99Ms: 20 }),
    result('scale_introspect_during_purge', { requestsPerSecond: 500, p99Ms: 41 }),
  ];
  const results = { scenarios } as Parameters<typeof compareScale>[0];
  compareScale(results);
  const [, small, refresh, introspect, purge] = scenarios;
  t.equal(small?.pass, true, 'the small ones are not judged against anything');
  t.equal(refresh?.pass, false);
  t.match(refresh?.failures, [/0\.85 × scale_refresh_small/, /p99 21 ms = 2\.1 ×/]);
  t.equal(introspect?.pass, true, '0.95× and p99 at 2× pass');
  t.match(introspect, { ratio: 0.95, ceiling: { name: 'scale_introspect_small' }, target: '≥0.9×(s), p99≤2×(s)' });
  t.equal(purge?.pass, false, 'the purge run has no speed target, only p99');
  t.match(purge?.failures, [/p99 41 ms/]);
});

import { Histogram, Registry } from 'prom-client';
import t from 'tap';
import { createRequestHistogram } from '../../src/ops/request-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1];
const observations: Array<[string, string, number, number]> = [
  ['/token', 'POST', 200, 0.0005],
  ['/token', 'POST', 200, 0.001],
  ['/token', 'POST', 200, 0.05],
  ['/token', 'POST', 400, 3],
  ['/.well-known/jwks.json', 'GET', 200, 0.002],
  ['unknown', 'GET', 404, 0.0001],
];

t.test('the same Prometheus text as prom-client’s own Histogram, for the same observations', async (t) => {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = createRequestHistogram({ name: 'h_seconds', help: 'requests', buckets: BUCKETS, registry: ours });
  const reference = new Histogram({ name: 'h_seconds', help: 'requests', labelNames: ['route', 'method', 'status'], buckets: BUCKETS, registers: [theirs] });
  const routes = new Map<string, ReturnType<typeof fast.forRoute>>();
  for (const [route, method, status, seconds] of observations) {
    if (!routes.has(route)) routes.set(route, fast.forRoute(route));
    routes.get(route)?.(method, status, seconds);
    reference.observe({ route, method, status }, seconds);
  }
  const sorted = (text: string) => text.split('\n').sort().join('\n');
  t.equal(sorted(await ours.metrics()), sorted(await theirs.metrics()));
  t.match(await ours.metrics(), 'h_seconds_bucket{le="0.001",route="/token",method="POST",status="200"} 2');
  t.match(await ours.metrics(), 'h_seconds_bucket{le="+Inf",route="/token",method="POST",status="400"} 1');
});

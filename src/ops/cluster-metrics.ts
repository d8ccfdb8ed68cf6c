import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

// The choice: one /metrics answer that adds up every worker, summed in the primary, rather than a
// `worker` label. With node:cluster a scrape reaches whichever worker the primary hands the
// connection to, so per-worker labels would show one worker's numbers per scrape, a different one
// each time. Here the worker that gets the scrape asks the primary, which collects every worker's
// registry (prom-client's AggregatorRegistry: counters and histograms summed, gauges by each
// metric's own aggregator) and answers with the total.
const REQUEST = 'sigil:metrics-request';
const RESPONSE = 'sigil:metrics-response';

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}
interface MetricsResponse {
  type: typeof RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

const isMessage = <T extends { type: string }>(m: unknown, type: T['type']): m is T =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;

/** In the primary: answers workers' requests for the cluster-wide metrics text. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage<MetricsRequest>(message, REQUEST)) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: RESPONSE, id: message.id, text } satisfies MetricsResponse),
      (err: Error) => worker.isConnected() && worker.send({ type: RESPONSE, id: message.id, error: err.message } satisfies MetricsResponse),
    );
  });
}

/**
 * In a worker: offers `registry` to the primary's aggregation, and returns what /metrics renders
 * instead of the registry alone: the sum over every worker, asked of the primary.
 */
export function clusterMetricsText(registry: Registry, timeoutMs = 10_000): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // its constructor installs the worker's listener for the primary's requests
  const pending = new Map<number, { resolve(text: string): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage<MetricsResponse>(message, RESPONSE)) return;
    const request = pending.get(message.id);
    if (!request) return;
    pending.delete(message.id);
    clearTimeout(request.timer);
    if (message.text !== undefined) request.resolve(message.text);
    else request.reject(new Error(`the primary could not collect the workers' metrics: ${message.error ?? 'no answer'}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the primary did not answer for the metrics in time'));
      }, timeoutMs);
      timer.unref();
      pending.set(id, { resolve, reject, timer });
      process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
    });
}

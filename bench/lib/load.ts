// One timed load run with autocannon (as a library, in this process), summarized; or one per
// server at once, summed up.
import autocannon from 'autocannon';

/** What a scenario sends: the request (built once per connection) and what a good answer looks like. */
export interface Traffic {
  /**
   * Called once per connection, so a request may keep per-connection state in its closure (the
   * refresh chain does); state shared by all connections lives outside it.
   */
  request: () => autocannon.Request;
  /** A 2xx whose body fails this counts as a wrong answer (e.g. introspection saying inactive). */
  expect?: (body: string) => boolean;
  /** Replace `[<id>]` in the body with a fresh id per request. */
  idReplacement?: boolean;
  /** Requests per second over all connections; unset: as fast as the server answers. */
  overallRate?: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  /** Latencies of 2xx answers, in whole milliseconds (autocannon's resolution). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  /** 2xx answers that were not what the scenario expects. */
  wrongAnswers: number;
  durationSeconds: number;
  /** CPU seconds used meanwhile by the server (one instance) and by PostgreSQL, where /proc tells. */
  cpu?: { server: number; postgres: number };
}

function fire(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (err: unknown, result) => (err ? reject(err) : resolve(result)));
  });
}

export async function runLoad(url: string, connections: number, traffic: Traffic, seconds: number): Promise<LoadResult> {
  let wrongAnswers = 0;
  const withCheck = (request: autocannon.Request): autocannon.Request => {
    const own = typeof request.onResponse === 'function' ? request.onResponse : undefined;
    return {
      ...request,
      onResponse: (status, body, context, headers) => {
        if (status >= 200 && status < 300 && traffic.expect && !traffic.expect(body)) wrongAnswers++;
        own?.(status, body, context, headers);
      },
    };
  };
  const result = await fire({
    url,
    connections,
    duration: seconds,
    // autocannon's coordinated-omission correction assumes a 1 ms interval between requests
    // (Math.ceil(1 / rate)) and back-fills made-up samples; the latencies as measured are truer.
    ...(traffic.overallRate !== undefined && { overallRate: traffic.overallRate, ignoreCoordinatedOmission: true }),
    idReplacement: traffic.idReplacement ?? false,
    // Each connection gets its own request object here. (autocannon first builds a default GET /
    // for every connection; setupClient replaces it before anything is sent.)
    setupClient: (client) => client.setRequests([withCheck(traffic.request())]),
  });
  const requests = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return {
    requestsPerSecond: requests / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    requests,
    non2xx: result.non2xx,
    errors: result.errors,
    wrongAnswers,
    durationSeconds: result.duration,
  };
}

/** `connections` shared as evenly as it goes among `n` servers, at least one each. */
const shareConnections = (connections: number, n: number) =>
  Array.from({ length: n }, (_, i) => Math.max(1, Math.floor((connections + i) / n)));

/**
 * One run per server at the same time (`traffics[i]` against `urls[i]`), the connections shared
 * among them, summed up: requests and failures add up; latencies are the worst server's, since
 * autocannon's summaries cannot be merged into one distribution.
 */
export async function runSpreadLoad(urls: string[], connections: number, traffics: Traffic[], seconds: number): Promise<LoadResult> {
  const shares = shareConnections(connections, urls.length);
  const results = await Promise.all(
    urls.map((url, i) => {
      const traffic = traffics[i];
      if (!traffic) throw new Error(`no traffic for ${url}`);
      return runLoad(url, shares[i] ?? 1, traffic, seconds);
    }),
  );
  if (results.length === 1 && results[0]) return results[0];
  const sum = (pick: (r: LoadResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const max = (pick: (r: LoadResult) => number) => Math.max(...results.map(pick));
  return {
    requestsPerSecond: sum((r) => r.requestsPerSecond),
    p50Ms: max((r) => r.p50Ms),
    p99Ms: max((r) => r.p99Ms),
    maxMs: max((r) => r.maxMs),
    requests: sum((r) => r.requests),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    wrongAnswers: sum((r) => r.wrongAnswers),
    durationSeconds: max((r) => r.durationSeconds),
  };
}

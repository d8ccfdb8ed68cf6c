import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Database } from '../db/database.js';
import { authChallenge } from '../http/error-text.js';
import { HttpError } from '../http/http-error.js';
import { createRequestHistogram } from './request-histogram.js';

export interface Metrics {
  registry: Registry;
  tokensIssued: Counter<'grant'>;
  loginFailures: Counter;
  loginsThrottled: Counter;
  refreshReuse: Counter;
  keyEvents: Counter<'event'>;
  /** What /metrics answers; a cluster worker replaces it with every worker's sum (ops/cluster-metrics.ts). */
  render(): Promise<string>;
}

export interface MetricsSources {
  db: Database;
  signingKey: () => { activatesAt: Date } | undefined;
  now: () => Date;
}

/** Prometheus metrics, in a registry of this app's own (tests build many apps in one process). */
export function createMetrics({ db, signingKey, now }: MetricsSources): Metrics {
  const registry = new Registry();
  // Process metrics, including nodejs_eventloop_lag_seconds.
  collectDefaultMetrics({ register: registry, prefix: 'sigil_' });
  const registers = [registry];
  new Gauge({
    name: 'sigil_db_pool_connections',
    help: 'PostgreSQL pool connections by state (in use, idle, requests waiting for one)',
    labelNames: ['state'],
    registers,
    collect() {
      const stats = db.poolStats?.();
      if (!stats) return;
      this.set({ state: 'in_use' }, stats.total - stats.idle);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
  new Gauge({
    name: 'sigil_signing_key_age_seconds',
    help: 'Seconds since the current signing key started signing',
    registers,
    // Summed over workers it would mean nothing; every worker signs with the same key.
    aggregator: 'max',
    collect() {
      const key = signingKey();
      if (key) this.set((now().getTime() - key.activatesAt.getTime()) / 1000);
    },
  });
  return {
    registry,
    render: () => registry.metrics(),
    tokensIssued: new Counter({ name: 'sigil_tokens_issued_total', help: 'Access tokens issued, by grant', labelNames: ['grant'], registers }),
    loginFailures: new Counter({ name: 'sigil_login_failures_total', help: 'Failed password logins', registers }),
    loginsThrottled: new Counter({ name: 'sigil_logins_throttled_total', help: 'Password logins refused by a lock-out', registers }),
    refreshReuse: new Counter({
      name: 'sigil_refresh_token_reuse_total',
      help: 'Rotated refresh tokens presented again (the family was revoked)',
      registers,
    }),
    keyEvents: new Counter({
      name: 'sigil_signing_key_events_total',
      help: 'Signing-key rotation steps performed by this instance, by step',
      labelNames: ['event'],
      registers,
    }),
  };
}

/**
 * Request counts and latency by route, method and status. Each route gets its own onResponse hook,
 * bound to its pattern when it is added (onRoute), so call this before any route is added: a root
 * hook would have to ask every request for its route (req.routeOptions builds an object per
 * call). Requests that match no route are counted by the hook this returns, for the scope of the
 * not-found handler.
 */
export function countRequests(app: FastifyInstance, metrics: Metrics): { onUnmatchedResponse: onResponseHookHandler } {
  const requests = createRequestHistogram({
    name: 'sigil_http_request_duration_seconds',
    help: 'HTTP requests by route, method and status',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registry: metrics.registry,
  });
  const hookFor = (route: string): onResponseHookHandler => {
    const observe = requests.forRoute(route);
    return (req, reply, done) => {
      observe(req.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
  };
  app.addHook('onRoute', (route) => {
    const own = route.onResponse === undefined ? [] : Array.isArray(route.onResponse) ? route.onResponse : [route.onResponse];
    route.onResponse = [...own, hookFor(route.url)];
  });
  return { onUnmatchedResponse: hookFor('unknown') };
}

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** When set, /metrics wants `Authorization: Bearer <token>`. */
  token: string | undefined;
}

/** GET /metrics, in Prometheus' text format. */
export async function metricsRoute(app: FastifyInstance, { metrics, token }: MetricsRouteOptions) {
  app.get('/metrics', async (req, reply) => {
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      reply.header('www-authenticate', authChallenge('Bearer', { realm: 'sigil-metrics' }));
      throw new HttpError('unauthorized', 'the metrics endpoint needs its bearer token');
    }
    reply.type(metrics.registry.contentType);
    try {
      return await metrics.render();
    } catch (err) {
      // A worker too busy to answer the primary in time: a scrape to retry, not a server error.
      throw new HttpError('overloaded', 'the metrics could not be collected from every worker', {
        cause: err,
        retryAfter: 1,
      });
    }
  });
}

import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/database.js';
import { OAuthError } from '../oauth/errors.js';

export interface Metrics {
  registry: Registry;
  tokensIssued: Counter<'grant'>;
  loginFailures: Counter;
  loginsThrottled: Counter;
  refreshReuse: Counter;
  keyEvents: Counter<'event'>;
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
    collect() {
      const key = signingKey();
      if (key) this.set((now().getTime() - key.activatesAt.getTime()) / 1000);
    },
  });
  return {
    registry,
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

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** When set, /metrics wants `Authorization: Bearer <token>`. */
  token: string | undefined;
}

/** Request counts and latency by route and status, and GET /metrics. */
export async function metricsRoute(app: FastifyInstance, { metrics, token }: MetricsRouteOptions) {
  const requests = new Histogram({
    name: 'sigil_http_request_duration_seconds',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics.registry],
  });
  app.addHook('onResponse', (req, reply, done) => {
    // The route pattern, not the raw URL, so labels stay few.
    const route = req.routeOptions.url ?? 'unknown';
    requests.observe({ route, method: req.method, status: reply.statusCode }, reply.elapsedTime / 1000);
    done();
  });
  app.get('/metrics', async (req, reply) => {
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      reply.header('www-authenticate', 'Bearer realm="sigil-metrics"');
      throw new OAuthError('invalid_client', 'the metrics endpoint needs its bearer token', { status: 401 });
    }
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

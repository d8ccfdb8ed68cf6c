import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface EventLoopPressure {
  /** True while the last sample's mean event-loop delay was over the limit. A field read, no work. */
  readonly overloaded: boolean;
  stop(): void;
}

// The histogram's own timer granularity; its mean includes it, so it is taken off again.
const RESOLUTION_MS = 10;

/**
 * Samples the event loop's delay once per `sampleMs` and says whether it is over `maxDelayMs`.
 * It does what @fastify/under-pressure's delay check does (the same histogram, resolution and
 * rule), but the answer is a boolean that Sigil's one onRequest hook reads: under-pressure adds a
 * hook of its own that builds `req.routeOptions` on every request, a measurable share of the
 * cheapest answer (the JWKS).
 */
export function watchEventLoopPressure({ maxDelayMs, sampleMs = 1000 }: { maxDelayMs: number; sampleMs?: number }): EventLoopPressure {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let overloaded = false;
  const timer = setInterval(() => {
    // No sample at all (NaN) means the loop was blocked for the whole interval.
    const delayMs = Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS);
    overloaded = Number.isNaN(delayMs) || delayMs > maxDelayMs;
    histogram.reset();
  }, sampleMs);
  timer.unref();
  return {
    get overloaded() {
      return overloaded;
    },
    stop() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

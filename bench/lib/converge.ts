// How long a change takes to reach every Sigil instance: each instance probed on its own, every
// 20 ms, until it shows the change, and the slowest one judged against the bound Sigil documents.
import { setTimeout as sleep } from 'node:timers/promises';

const PROBE_EVERY_MS = 20;

/** A bound as docs/operations.md states it. */
export interface Bound {
  text: string;
  /** The change must show on every instance within this long. */
  withinMs: number;
  /** "At once": the first probe sent to each instance after the change must already show it. */
  firstProbe?: boolean;
}

export interface Seen {
  /** From the change to the answer that first showed it; undefined when none did within the bound. */
  ms: number | undefined;
  /** Probes this instance answered until then. */
  probes: number;
}

export interface Convergence {
  bound: Bound;
  instances: Seen[];
  /** The slowest instance's time; undefined when one never showed the change. */
  worstMs: number | undefined;
  pass: boolean;
}

/**
 * Probes every instance (by its URL), each in a loop of its own, until `shows(url)` resolves true
 * or the bound has passed since `since` (a performance.now() instant: when the change was made).
 */
export async function convergence(urls: string[], since: number, bound: Bound, shows: (url: string) => Promise<boolean>): Promise<Convergence> {
  const instances = await Promise.all(
    urls.map(async (url): Promise<Seen> => {
      for (let probes = 1; ; probes++) {
        const shown = await shows(url);
        const ms = performance.now() - since;
        if (shown) return { ms, probes };
        if (ms > bound.withinMs) return { ms: undefined, probes };
        await sleep(PROBE_EVERY_MS);
      }
    }),
  );
  const times = instances.flatMap((s) => (s.ms === undefined ? [] : [s.ms]));
  const worstMs = times.length === urls.length ? Math.max(...times) : undefined;
  const pass =
    worstMs !== undefined && worstMs <= bound.withinMs && (!bound.firstProbe || instances.every((s) => s.probes === 1));
  return { bound, instances, worstMs, pass };
}

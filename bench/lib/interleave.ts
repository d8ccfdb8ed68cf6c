// Several servers loaded one at a time, in short alternating slices, so that whatever the machine
// does over the run (other tenants, frequency changes) falls on all of them alike: the ratio of
// their requests/s then means something even when absolute numbers drift by 2× within minutes.
import { type LoadResult, runLoad, type Traffic } from './load.js';
import { sampleCpu } from './cpu.js';
import { sampleRss } from './rss.js';
import type { Server } from './spawn.js';

export interface Contender {
  server: Server;
  connections: number;
  /** Built anew for each slice (the refresh chains need fresh logins after a cut). */
  traffic: () => Traffic | Promise<Traffic>;
}

export interface Interleaved {
  load: LoadResult;
  peakRssBytes: number | undefined;
  /** requests/s of each slice, in order: the spread shows how steady the machine was. */
  slices: number[];
}

/**
 * Slices merged into one result: requests and failures add up over the time loaded; p50 is the
 * request-weighted mean of the slices' p50s and p99 the worst slice's (autocannon's summaries
 * cannot be merged into one distribution, and the worst p99 never flatters).
 */
export function mergeSlices(results: LoadResult[]): LoadResult {
  const sum = (pick: (r: LoadResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const max = (pick: (r: LoadResult) => number) => Math.max(...results.map(pick));
  const requests = sum((r) => r.requests);
  const durationSeconds = sum((r) => r.durationSeconds);
  const cpu = results.every((r) => r.cpu) ? { server: sum((r) => r.cpu?.server ?? 0), postgres: sum((r) => r.cpu?.postgres ?? 0) } : undefined;
  return {
    ...(cpu && { cpu }),
    requestsPerSecond: durationSeconds > 0 ? requests / durationSeconds : 0,
    p50Ms: requests > 0 ? sum((r) => r.p50Ms * r.requests) / requests : 0,
    p99Ms: max((r) => r.p99Ms),
    maxMs: max((r) => r.maxMs),
    requests,
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    wrongAnswers: sum((r) => r.wrongAnswers),
    durationSeconds,
  };
}

/**
 * A warm-up for each (its RSS counts), then `slices` timed slices each of `seconds / slices`, in the order
 * A B C C B A A B C …: every contender is as often early as late in each pair of rounds, which
 * cancels a steady drift as well as a slow wave.
 */
export async function interleave(contenders: Contender[], o: { seconds: number; slices: number; warmup: number }): Promise<Interleaved[]> {
  const rss = contenders.map((c) => sampleRss(c.server.pid));
  const results: LoadResult[][] = contenders.map(() => []);
  try {
    for (const c of contenders) if (o.warmup > 0) await runLoad(c.server.url, c.connections, await c.traffic(), o.warmup);
    const sliceSeconds = o.seconds / o.slices;
    for (let round = 0; round < o.slices; round++) {
      const order = contenders.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const c = contenders[i];
        if (!c) continue;
        const traffic = await c.traffic();
        const cpu = sampleCpu(c.server.pid);
        const load = await runLoad(c.server.url, c.connections, traffic, sliceSeconds);
        const used = cpu.stop();
        results[i]?.push(used ? { ...load, cpu: used } : load);
      }
    }
    const peaks = rss.map((r) => r.stop());
    return results.map((slices, i) => ({
      load: mergeSlices(slices),
      peakRssBytes: peaks[i],
      slices: slices.map((s) => s.requestsPerSecond),
    }));
  } finally {
    for (const r of rss) r.stop();
  }
}

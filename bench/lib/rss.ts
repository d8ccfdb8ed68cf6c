// Peak resident memory of a server process while a scenario runs (Linux: /proc).
import { readFileSync, writeFileSync } from 'node:fs';
import { processTree } from './cpu.js';

const SAMPLE_EVERY_MS = 100;

function statusKib(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** RSS now, in bytes (undefined without /proc). */
export function currentRss(pid: number): number | undefined {
  const kib = statusKib(pid, 'VmRSS');
  return kib === undefined ? undefined : kib * 1024;
}

export interface RssSampler {
  /** Peak RSS in bytes since start, or undefined where /proc is not available. */
  stop(): number | undefined;
}

/**
 * Two measures, the larger wins: VmHWM, the kernel's own high-water mark, reset at the start
 * (writing 5 to clear_refs, Linux ≥ 4.0, allowed on our own child) so it covers this scenario
 * only; and VmRSS polled every 100 ms, for kernels that refuse the reset. A process with
 * children (a node:cluster primary) gives the largest of its processes: the budget is per process.
 */
export function sampleRss(pid: number): RssSampler {
  const samplers = processTree(pid).map(sampleOne);
  return {
    stop() {
      const peaks = samplers.map((s) => s.stop()).filter((p) => p !== undefined);
      return peaks.length > 0 ? Math.max(...peaks) : undefined;
    },
  };
}

function sampleOne(pid: number): RssSampler {
  let hwmReset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    hwmReset = true;
  } catch {
    // Polling alone then: it can miss a spike shorter than the interval.
  }
  let peakKib = statusKib(pid, 'VmRSS');
  const poll = () => {
    const kib = statusKib(pid, 'VmRSS');
    if (kib !== undefined) peakKib = Math.max(peakKib ?? 0, kib);
  };
  const timer = setInterval(poll, SAMPLE_EVERY_MS);
  timer.unref();
  let stopped = false;
  return {
    stop() {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        poll();
        const hwm = hwmReset ? statusKib(pid, 'VmHWM') : undefined;
        if (hwm !== undefined) peakKib = Math.max(peakKib ?? 0, hwm);
      }
      return peakKib === undefined ? undefined : peakKib * 1024;
    },
  };
}

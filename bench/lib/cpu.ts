// CPU time of the server under test and of PostgreSQL (Linux: /proc), to turn requests/s into
// CPU per request: steadier than requests/s on a shared machine, and it shows where the time goes.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this bench runs on

/** utime + stime, and with `children` also the CPU of its exited children (cutime + cstime). */
function ticksOf(pid: number, children = false): number | undefined {
  try {
    // Fields after the command name (which may contain spaces): utime is the 14th field of the
    // line, stime the 15th, cutime and cstime the next two.
    const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []).map(Number);
    return (f[11] ?? 0) + (f[12] ?? 0) + (children ? (f[13] ?? 0) + (f[14] ?? 0) : 0);
  } catch {
    return undefined;
  }
}

/** Every process's pid that passes `keep` (reading /proc/<pid>/`file`), [] without /proc. */
function pidsWhere(file: string, keep: (text: string) => boolean): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return keep(readFileSync(`/proc/${d}/${file}`, 'utf8'));
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

const postgresPids = () => pidsWhere('comm', (comm) => comm.startsWith('postgres'));

/** The process and its children (a node:cluster primary's workers), alive now. */
export function processTree(pid: number): number[] {
  return [pid, ...pidsWhere('stat', (stat) => stat.split(') ')[1]?.split(' ')[1] === String(pid))];
}

// Backends come and go (a pool closes idle connections): one that exits is reaped by the
// postmaster, whose children's time then holds its CPU, so live processes plus children's time
// add up across exits.
const postgresTicks = () => postgresPids().reduce((sum, pid) => sum + (ticksOf(pid, true) ?? 0), 0);

export interface CpuSample {
  /** Seconds of CPU since the sample was taken: the server's, PostgreSQL's (all its processes). */
  stop(): { server: number; postgres: number } | undefined;
}

/** A server's CPU: its own, its live children's (workers) and its exited children's. */
const serverTicks = (pid: number) => {
  const own = ticksOf(pid, true);
  return own === undefined ? undefined : processTree(pid).slice(1).reduce((sum, child) => sum + (ticksOf(child) ?? 0), own);
};

export function sampleCpu(pid: number): CpuSample {
  const server = serverTicks(pid);
  const postgres = postgresTicks();
  return {
    stop() {
      const after = serverTicks(pid);
      if (server === undefined || after === undefined) return undefined;
      return { server: (after - server) / TICKS_PER_SECOND, postgres: (postgresTicks() - postgres) / TICKS_PER_SECOND };
    },
  };
}

// CPU time of the server under test and of PostgreSQL (Linux: /proc), to turn requests/s into
// CPU per request: steadier than requests/s on a shared machine, and it shows where the time goes.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this bench runs on

function ticksOf(pid: number): number | undefined {
  try {
    // Fields after the command name (which may contain spaces): state is 3rd, utime 14th, stime 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function postgresPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('postgres');
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

// PostgreSQL's backends come and go; those that exited during a slice are missed (a new backend
// per slice is rare: pools keep their connections).
const postgresTicks = () => postgresPids().reduce((sum, pid) => sum + (ticksOf(pid) ?? 0), 0);

export interface CpuSample {
  /** Seconds of CPU since the sample was taken: the server's, PostgreSQL's (all its processes). */
  stop(): { server: number; postgres: number } | undefined;
}

export function sampleCpu(pid: number): CpuSample {
  const server = ticksOf(pid);
  const postgres = postgresTicks();
  return {
    stop() {
      const after = ticksOf(pid);
      if (server === undefined || after === undefined) return undefined;
      return { server: (after - server) / TICKS_PER_SECOND, postgres: (postgresTicks() - postgres) / TICKS_PER_SECOND };
    },
  };
}

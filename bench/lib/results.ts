// What a run produces, as plain data: the runner fills it in, lib/report.ts renders it, and the
// JSON document in bench/results/ is it. Nothing here knows how a scenario is declared.
import type { LoadResult } from './load.js';

/** What a scenario's own checks found, beside the load (many_instances: agreement across instances). */
export interface Findings {
  /** What the table's target column says. */
  target: string;
  /** Lines under the table. */
  summary: string[];
  failures: string[];
  /** The measurements, for the JSON document. */
  details: Record<string, unknown>;
}

export interface Measured {
  connections: number;
  load: LoadResult;
  /** Peak RSS of the server under test during the scenario, warm-up included (the largest process's). */
  peakRssBytes: number | undefined;
  /** Each instance's, when the scenario runs several. */
  instancesPeakRssBytes?: (number | undefined)[];
  background?: { name: string; connections: number; load: LoadResult };
  findings?: Findings;
  /** requests/s of each interleaved slice (scenarios measured against ceilings). */
  slices?: number[];
}

export interface CeilingResult extends Measured {
  name: string;
  label: string;
  /** The scenario it was interleaved with. */
  scenario: string;
}

export interface ScenarioResult extends Measured {
  name: string;
  /** The setup whose Sigil it ran on; absent: the default Sigil. */
  setup?: string;
  ceiling?: { name: string; label: string; requestsPerSecond: number };
  ratio?: number;
  /** The second ceiling, for information (no target). */
  alsoCeiling?: { name: string; label: string; requestsPerSecond: number; ratio: number };
  target: string;
  failures: string[];
  pass: boolean;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  sigilIdleRssBytes: number | undefined;
  /** Peak RSS every Sigil process must stay under (each process's). */
  maxRssBytes: number;
  database: string;
  scenarios: ScenarioResult[];
  ceilings: CeilingResult[];
}

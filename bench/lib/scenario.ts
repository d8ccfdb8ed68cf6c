// How a scenario, a ceiling and a Sigil setup are declared: the types behind the list in
// bench/scenarios.ts. See bench/README.md, "Adding a scenario".
import type { Traffic } from './load.js';
import type { Findings } from './results.js';
import type { Sigil } from './sigil.js';
import type { Server } from './spawn.js';

/** `http`: --connections; `password`: --password-connections; a number: fixed. */
export type Connections = 'http' | 'password' | number;

/** What a traffic builder gets: the Sigil the scenario runs on, and what its setup prepared. */
export interface BenchContext {
  sigil: Sigil;
  /** The JWKS that Sigil serves (its size sizes ceiling (a); ceiling (d) verifies with its keys). */
  jwksBody: string;
  connections: number;
  passwordConnections: number;
  /** Distinct active access tokens of this Sigil, minted once on first use (--pool of them). */
  accessTokens(): Promise<string[]>;
  /** What `setup.prepare` returned for this scenario's setup (throws for another setup). */
  data<D>(setup: Setup<D>): D;
}

/** What `Setup.prepare` may use: the migrated, seeded database, before `sigil serve` starts on it. */
export interface Preparation {
  databaseUrl: string;
  /** `sigil <args>` on that database, as an operator runs it; resolves with stdout. */
  cli(args: string[], input?: string): Promise<string>;
  log(msg: string): void;
}

/**
 * A Sigil other than the run's default one. Every scenario naming the same setup (by object) runs
 * on one Sigil of it, started before the first of them and stopped, with its database, after the
 * last; scenarios without a setup run on the default Sigil.
 */
export interface Setup<D = unknown> {
  /** For the log and the JSON. */
  name: string;
  /** Sigil's environment on top of the bench's, e.g. `{ SIGIL_WORKERS: '2' }`. */
  env?: Record<string, string>;
  /**
   * `own`: a database of its own, created for it through BENCH_ADMIN_DATABASE_URL (even when
   * DATABASE_URL names the run's), migrated and seeded with the bench's clients and user like the
   * run's, and dropped after its last scenario; its Sigil has its own issuer.
   * `shared` (default): the run's database, with the default Sigil's issuer (its tokens are valid
   * on both), as another instance behind a load balancer.
   */
  database?: 'own' | 'shared';
  /** Builds a dataset (bulk SQL, `sigil users import`…) before Sigil serves; the result is `ctx.data(setup)`. */
  prepare?(p: Preparation): Promise<D>;
}

export interface Ceiling {
  /** What scenarios refer to it by. */
  name: string;
  /** `(x) what it does`: the letter in parentheses names it in the table. */
  label: string;
  /** File in bench/ceilings/. */
  script: string;
  env?(ctx: BenchContext): Record<string, string>;
  /** Processes sharing its port through node:cluster, as SIGIL_WORKERS does for Sigil (default 1). */
  workers?: number;
  connections: Connections;
  traffic(ctx: BenchContext): Traffic | Promise<Traffic>;
}

/** Every instance of a many-instance scenario, all on one database. */
export interface Cluster {
  /** The first instance, with the bench's clients, the CLI and the settings. */
  sigil: Sigil;
  /** Every instance, the first included. */
  instances: Server[];
}

export interface Scenario {
  /** Unique; what `--only` names. */
  name: string;
  /** Names `--only` also accepts for it, e.g. `workers` or `scale`. */
  groups?: string[];
  /** Left out of a run without --only (it takes long or needs more than the default setup); `--only` a name or a group runs it. */
  onlyOnRequest?: boolean;
  /** Runs on a Sigil of that setup instead of the default one. */
  setup?: Setup<unknown>;
  /** The ceiling it is interleaved with (a name from CEILINGS). */
  ceiling?: string;
  /** Target: requests/s ≥ minRatio × the ceiling's. Without it the ratio is shown for information. */
  minRatio?: number;
  /** A second ceiling, interleaved too, its ratio shown for information only (no target). */
  alsoCeiling?: string;
  /** Target: p99 latency at most this. */
  maxP99Ms?: number;
  connections: Connections;
  /** Built again for each phase (warm-up, every slice, the timed run). */
  traffic(ctx: BenchContext): Traffic | Promise<Traffic>;
  /** Load run at the same time: its answers are checked as the primary load's are, its speed only reported. */
  background?: { name: string; connections: Connections; traffic(ctx: BenchContext): Traffic | Promise<Traffic> };
  /** Sigil processes on the one database, each load's connections shared among them (default 1). */
  instances?: number;
  /** Runs alongside the timed run (not the warm-up); its failures fail the scenario. */
  during?(cluster: Cluster, seconds: number): Promise<Findings>;
}

/** Peak RSS each Sigil process must stay under, in every scenario. */
export const MAX_RSS_BYTES = 150 * 1024 * 1024;

/** The scenarios `--only` selects (names or groups), or the default run without it. */
export function selectScenarios<S extends Pick<Scenario, 'name' | 'groups' | 'onlyOnRequest'>>(all: readonly S[], only: string[] | undefined): S[] {
  if (!only) return all.filter((s) => !s.onlyOnRequest);
  return all.filter((s) => only.includes(s.name) || (s.groups ?? []).some((g) => only.includes(g)));
}

/** Everything `--only` accepts: every scenario name and every group. */
export function selectableNames(all: readonly Pick<Scenario, 'name' | 'groups'>[]): string[] {
  return [...new Set([...all.map((s) => s.name), ...all.flatMap((s) => s.groups ?? [])])];
}

/** What a run without --only leaves out: the groups (or names) of the scenarios run only on request. */
export function onRequestNames(all: readonly Pick<Scenario, 'name' | 'groups' | 'onlyOnRequest'>[]): string[] {
  return [...new Set(all.filter((s) => s.onlyOnRequest).flatMap((s) => (s.groups?.length ? s.groups : [s.name])))];
}

import { runEvery, type Periodic } from '../periodic.js';
import type { Database } from './database.js';

export interface ChangeWatchOptions {
  /** The NOTIFY channel a trigger or a writer sends on when the watched data changes. */
  channel: string;
  /** On every notification (synchronous: clear, or start a reload and report its errors). */
  onNotify: () => void;
  /**
   * Once LISTEN is in place: catches a change made between the caller's first read and LISTEN,
   * which no notification will announce. Errors reach the caller of watchChanges.
   */
  afterListen?: () => Promise<unknown>;
  /** The fallback: how often `onTimer` runs, whether or not notifications come. */
  intervalMs: number;
  /** Reports its own errors (a rejection is dropped, as by runEvery). */
  onTimer: () => Promise<unknown>;
  /** LISTEN (default true). Off in tests that drive refreshes by hand, and where NOTIFY is not delivered. */
  listen?: boolean;
  /** Run the timer (default true). */
  timer?: boolean;
}

export interface ChangeWatch {
  /** Stops the timer (waiting for a run in progress), then UNLISTENs. */
  stop(): Promise<void>;
}

/**
 * "Refresh on notify or timer", the life cycle of every in-memory copy of shared data (clients,
 * signing keys; next roles and jwks_uri keys): LISTEN for a change notification to refresh at
 * once, and poll on a timer as the fallback for what NOTIFY does not deliver (the embedded
 * database, a dropped connection, another writer). Correctness rests on the timer; NOTIFY makes it
 * prompt.
 */
export async function watchChanges(db: Pick<Database, 'listen'>, o: ChangeWatchOptions): Promise<ChangeWatch> {
  let unlisten: (() => Promise<void>) | undefined;
  let ticks: Periodic | undefined;
  if (o.listen ?? true) {
    const stopListening = await db.listen(o.channel, o.onNotify);
    await o.afterListen?.().catch(async (err: unknown) => {
      await stopListening();
      throw err;
    });
    unlisten = stopListening;
  }
  if (o.timer ?? true) ticks = runEvery(o.intervalMs, o.onTimer);
  return {
    async stop() {
      await ticks?.stop();
      ticks = undefined;
      await unlisten?.();
      unlisten = undefined;
    },
  };
}

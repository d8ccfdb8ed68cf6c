export interface Periodic {
  /** Clears the timer, then waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `ms` in the background: the timer never keeps the process alive, a tick is
 * skipped while the previous run is still going, and stop() lets a run in progress finish (so a
 * shutdown does not close the database under it). `task` reports its own errors; a rejection that
 * gets through is dropped here rather than left unhandled.
 */
export function runEvery(ms: number, task: () => Promise<unknown>): Periodic {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= task()
      .catch(() => {})
      .finally(() => {
        running = undefined;
      });
  }, ms);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

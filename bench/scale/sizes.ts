import { SCALE_FULL, type ScaleSizes } from './dataset-sql.js';

/** Issue 16's sizes times BENCH_SCALE_FACTOR (default 1), for a quick try at a smaller size. */
export function scaledSizes(env: NodeJS.ProcessEnv = process.env): ScaleSizes {
  const factor = Number(env.BENCH_SCALE_FACTOR ?? 1);
  if (!(factor > 0 && factor <= 1)) throw new Error('BENCH_SCALE_FACTOR must be in (0, 1]');
  const scale = (n: number) => Math.max(100, Math.round(n * factor));
  return {
    users: scale(SCALE_FULL.users),
    clients: scale(SCALE_FULL.clients),
    refreshTokens: scale(SCALE_FULL.refreshTokens),
    revocations: scale(SCALE_FULL.revocations),
    loginFailures: scale(SCALE_FULL.loginFailures),
  };
}

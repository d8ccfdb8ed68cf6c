// Ceiling (c), the password ceiling: one argon2id verify per request with Sigil's parameters
// (BENCH_ARGON2), behind the same HTTP stack so its requests/s compare with the password grant's.
// argon2 runs on libuv's thread pool; this process inherits the bench's environment as Sigil does,
// so both get the same pool size (UV_THREADPOOL_SIZE, default 4), and runs at most as many
// verifies at once as Sigil does (SIGIL_ARGON2_CONCURRENCY, default: the number of CPUs).
import argon2 from 'argon2';
import { announce, basicCredentials, ceilingServer, formParams, requiredEnv } from './http.js';

const { concurrency, ...params } = JSON.parse(requiredEnv('BENCH_ARGON2')) as {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  concurrency: number;
};
const hash = await argon2.hash(requiredEnv('BENCH_PASSWORD'), { type: argon2.argon2id, ...params });

// The same gate as Sigil's (src/users/passwords.ts), written out so that a ceiling loads nothing of Sigil.
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(task: () => Promise<T>): Promise<T> {
  if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await task();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

const app = await ceilingServer();
app.post('/token', async (req, reply) => {
  const form = formParams(req);
  const password = form?.password;
  if (!password || !basicCredentials(req.headers.authorization)) {
    return reply.code(400).send({ error: 'invalid_request' });
  }
  const ok = await limited(() => argon2.verify(hash, password));
  return ok ? { ok } : reply.code(400).send({ error: 'invalid_grant' });
});
await announce(app);

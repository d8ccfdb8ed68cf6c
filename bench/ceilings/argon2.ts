// Ceiling (c), the password ceiling: one argon2id verify per request with Sigil's parameters
// (BENCH_ARGON2), behind the same HTTP stack so its requests/s compare with the password grant's.
// argon2 runs on libuv's thread pool; this process inherits the bench's environment as Sigil does,
// so both get the same pool size (UV_THREADPOOL_SIZE, default 4): the concurrency Sigil uses.
import argon2 from 'argon2';
import { announce, basicCredentials, ceilingServer, formParams, requiredEnv } from './http.js';

const params = JSON.parse(requiredEnv('BENCH_ARGON2')) as { memoryCost: number; timeCost: number; parallelism: number };
const hash = await argon2.hash(requiredEnv('BENCH_PASSWORD'), { type: argon2.argon2id, ...params });

const app = await ceilingServer();
app.post('/token', async (req, reply) => {
  const form = formParams(req);
  if (!form?.password || !basicCredentials(req.headers.authorization)) {
    return reply.code(400).send({ error: 'invalid_request' });
  }
  const ok = await argon2.verify(hash, form.password);
  return ok ? { ok } : reply.code(400).send({ error: 'invalid_grant' });
});
await announce(app);

// Ceiling (a), the HTTP ceiling: a static JSON body of the JWKS's size, serialized once, the way
// Sigil serves its JWKS. No JWKS route can beat this.
import { announce, ceilingServer, requiredEnv } from './http.js';

const bytes = Number(requiredEnv('BENCH_BODY_BYTES'));
const wrapper = '{"keys":[],"pad":""}';
if (!Number.isInteger(bytes) || bytes < wrapper.length) throw new Error(`BENCH_BODY_BYTES must be an integer ≥ ${wrapper.length}`);
const body = `{"keys":[],"pad":"${'x'.repeat(bytes - wrapper.length)}"}`;

const app = await ceilingServer();
app.get('/.well-known/jwks.json', (_req, reply) => {
  reply.type('application/json; charset=utf-8').send(body);
});
await announce(app);

// Ceiling (d), the verify ceiling: the introspection request parsed as Sigil parses it and one JWT
// verified with jose per request, against Sigil's own published keys (BENCH_JWKS) so that it checks
// exactly the tokens the bench sends to Sigil. No revocation lookup, no database.
import { createLocalJWKSet, jwtVerify } from 'jose';
import { announce, basicCredentials, ceilingServer, formParams, requiredEnv } from './http.js';

const keys = createLocalJWKSet(JSON.parse(requiredEnv('BENCH_JWKS')));
const issuer = requiredEnv('BENCH_ISSUER');

const app = await ceilingServer();
app.post('/introspect', async (req, reply) => {
  const params = formParams(req);
  const client = basicCredentials(req.headers.authorization);
  if (!params?.token || !client) return reply.code(400).send({ error: 'invalid_request' });
  reply.header('cache-control', 'no-store');
  try {
    const { payload } = await jwtVerify(params.token, keys, { issuer, typ: 'at+jwt', requiredClaims: ['exp', 'iat'] });
    return { active: true, ...payload, token_type: 'Bearer' };
  } catch {
    return { active: false };
  }
});
await announce(app);

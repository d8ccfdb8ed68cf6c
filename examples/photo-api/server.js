// A resource server that trusts Sigil's access tokens: it checks them itself, with the keys Sigil
// publishes, and decides from the token alone what its holder may do. Copy it and change the
// routes; the token check (`authenticate`) is the part that must stay exactly as it is.
//
//   SIGIL_ISSUER=http://127.0.0.1:8080 PHOTO_API_AUDIENCE=https://photos.example node server.js
import Fastify from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/** The scope each route needs: POST /photos is for users holding photos:upload. */
const NEEDS = { upload: 'photos:upload', read: 'photos:read' };

/**
 * @param {{ issuer: string, audience: string, jwksUrl?: string }} o
 *   issuer: Sigil's issuer identifier; audience: this API's identifier (the `aud` Sigil puts in
 *   tokens for it: the client's --audience, or a --resource the client may ask for).
 */
export function createPhotoApi({ issuer, audience, jwksUrl = new URL('/.well-known/jwks.json', issuer).href }) {
  // Fetches the JWKS once and again when a token names a key it has not seen (a rotation).
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const app = Fastify();
  const photos = [];

  // RFC 6750 §3: which challenge goes with which failure.
  const challenge = (reply, status, params) =>
    reply
      .code(status)
      .header('www-authenticate', ['Bearer realm="photos"', ...params].join(', '))
      .send({ error: status === 403 ? 'insufficient_scope' : 'invalid_token' });

  /** The token's claims, after every check a resource server owes Sigil's tokens (RFC 9068 §4). */
  async function authenticate(req, reply) {
    const match = /^Bearer ([\w.~+/-]+=*)$/.exec(req.headers.authorization ?? '');
    if (!match) return challenge(reply, 401, []);
    try {
      const { payload } = await jwtVerify(match[1], jwks, {
        issuer,
        audience,
        typ: 'at+jwt', // refuses ID tokens and other JWTs signed by the same keys
        algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'],
        clockTolerance: 30,
      });
      req.claims = payload;
    } catch {
      return challenge(reply, 401, ['error="invalid_token"']);
    }
  }

  const requireScope = (scope) => async (req, reply) => {
    const granted = typeof req.claims?.scope === 'string' ? req.claims.scope.split(' ') : [];
    if (!granted.includes(scope)) return challenge(reply, 403, ['error="insufficient_scope"', `scope="${scope}"`]);
  };

  app.post('/photos', { preHandler: [authenticate, requireScope(NEEDS.upload)] }, async (req, reply) => {
    const photo = { id: photos.length + 1, owner: req.claims.sub, title: String(req.body?.title ?? 'untitled').slice(0, 200) };
    photos.push(photo);
    return reply.code(201).send(photo);
  });

  app.get('/photos', { preHandler: [authenticate, requireScope(NEEDS.read)] }, async (req) =>
    photos.filter((p) => p.owner === req.claims.sub),
  );

  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const issuer = process.env.SIGIL_ISSUER ?? 'http://127.0.0.1:8080';
  const audience = process.env.PHOTO_API_AUDIENCE ?? 'https://photos.example';
  const app = createPhotoApi({ issuer, audience });
  await app.listen({ port: Number(process.env.PORT ?? 8081), host: '127.0.0.1' });
  console.log(`photo-api on http://127.0.0.1:${process.env.PORT ?? 8081}, trusting ${issuer} for audience ${audience}`);
}

import fc from 'fast-check';
import { basicAuth } from './app.js';

/**
 * Authorization headers as the fuzz tests send them: none, the client's real Basic credentials, or
 * any nasty string as Basic (encoded or raw), as Bearer, or bare. With the real credentials in the
 * mix, a random request can reach whatever comes after client authentication.
 */
export function authorizationHeader(
  nasty: fc.Arbitrary<string>,
  client: { clientId: string; secret: string },
): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    fc.constant(undefined),
    fc.constant(basicAuth(client.clientId, client.secret)),
    nasty.map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
    nasty.map((s) => `Basic ${s}`),
    nasty.map((s) => `Bearer ${s}`),
    nasty,
  );
}

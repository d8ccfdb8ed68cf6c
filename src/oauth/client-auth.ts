import type { FastifyRequest } from 'fastify';
import { clientSecretMatches } from '../clients/client-secrets.js';
import type { Client } from '../clients/types.js';
import { OAuthError } from './errors.js';
import { type FormParams, single } from './form.js';
import { assertionSubject, JWT_BEARER, type VerifyAssertion } from './client-assertion.js';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  method: 'client_secret_basic' | 'client_secret_post';
}

const MAX_CREDENTIAL_LENGTH = 1024;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const failed = (why = 'client authentication failed') => new OAuthError('invalid_client', why);

// RFC 6749 Appendix B: form-urlencoding, where '+' is a space.
function formDecode(value: string): string {
  // Generated ids and secrets are plain base64url: nothing to decode (the usual case, per request).
  if (!value.includes('%') && !value.includes('+')) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw failed('malformed Basic credentials: bad percent-encoding');
  }
}

/**
 * client_secret_basic (RFC 6749 §2.3.1): base64 of `form-encoded id ":" form-encoded secret`.
 * Returns undefined when there is no Basic header; throws invalid_client when it is malformed.
 */
export function parseBasicAuthorization(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^basic[ \t]+(\S*)[ \t]*$/i.exec(header);
  if (!match) return undefined;
  const encoded = match[1] ?? '';
  if (encoded.length > 4 * MAX_CREDENTIAL_LENGTH || encoded.length % 4 !== 0 || !BASE64.test(encoded)) {
    throw failed('malformed Basic credentials: not base64');
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  if (decoded.includes('\uFFFD')) throw failed('malformed Basic credentials: not UTF-8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw failed('malformed Basic credentials: no colon between client_id and secret');
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  if (!clientId || !clientSecret) throw failed('malformed Basic credentials: empty client_id or secret');
  return { clientId, clientSecret };
}

/** Which credentials the request carries: Basic or the body, never both (RFC 6749 §2.3). */
export function readClientCredentials(req: FastifyRequest, params: FormParams): ClientCredentials {
  const authorization = req.headers.authorization;
  const basic = parseBasicAuthorization(authorization);
  const bodyId = single(params, 'client_id');
  const bodySecret = single(params, 'client_secret');
  if (basic) {
    if (bodySecret !== undefined) {
      throw new OAuthError('invalid_request', 'use one client authentication method: Basic or client_secret, not both');
    }
    if (bodyId !== undefined && bodyId !== basic.clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body differs from the one in the Authorization header');
    }
    return { ...basic, method: 'client_secret_basic' };
  }
  if (authorization !== undefined && bodySecret === undefined) {
    throw failed('unsupported Authorization scheme: use Basic or client_secret_post');
  }
  if (bodyId === undefined || bodySecret === undefined) {
    throw failed('client authentication is required (Basic, or client_id and client_secret in the body)');
  }
  return { clientId: bodyId, clientSecret: bodySecret, method: 'client_secret_post' };
}

export interface ClientLookup {
  findById(clientId: string): Promise<Client | undefined>;
}

export type AuthenticateClient = (req: FastifyRequest, params: FormParams) => Promise<Client>;

/**
 * Authenticates the calling client. Unknown client, wrong secret and disabled client fail the same
 * way; the previous secret counts until its grace period ends.
 */
export function createClientAuthenticator(
  clients: ClientLookup,
  now: () => Date = () => new Date(),
  verifyAssertion?: VerifyAssertion,
): AuthenticateClient {
  async function byAssertion(req: FastifyRequest, params: FormParams, assertion: string): Promise<Client> {
    // RFC 6749 §2.3: one method per request.
    if (req.headers.authorization !== undefined || single(params, 'client_secret') !== undefined) {
      throw failed('use one client authentication method: client_assertion, not with Basic or client_secret');
    }
    if (single(params, 'client_assertion_type') !== JWT_BEARER) throw failed(`client_assertion_type must be ${JWT_BEARER}`);
    if (!verifyAssertion) throw failed('private_key_jwt is not enabled');
    const clientId = assertionSubject(assertion);
    const bodyId = single(params, 'client_id');
    if (bodyId !== undefined && bodyId !== clientId) throw failed('client_id differs from the client assertion iss and sub');
    if (clientId.length > MAX_CREDENTIAL_LENGTH || /\p{Cc}/u.test(clientId)) throw failed();
    const client = await clients.findById(clientId);
    if (!client || client.disabled) throw failed();
    if (client.authMethod !== 'private_key_jwt') throw failed('this client is registered to authenticate with a secret, not an assertion');
    await verifyAssertion(client, assertion, now());
    return client;
  }

  return async (req, params) => {
    const assertion = single(params, 'client_assertion');
    if (assertion !== undefined || single(params, 'client_assertion_type') !== undefined) {
      if (assertion === undefined) throw failed('client_assertion_type was sent without a client_assertion');
      return byAssertion(req, params, assertion);
    }
    const { clientId, clientSecret } = readClientCredentials(req, params);
    // No client_id holds a control character (the schema forbids them); such a request cannot match.
    if (clientId.length > MAX_CREDENTIAL_LENGTH || clientSecret.length > MAX_CREDENTIAL_LENGTH || /\p{Cc}/u.test(clientId)) {
      throw failed();
    }
    const client = await clients.findById(clientId);
    if (!client) {
      clientSecretMatches(clientSecret, []); // same work as a known client
      throw failed();
    }
    if (!client.secretHash) {
      clientSecretMatches(clientSecret, []);
      throw failed('this client is registered for private_key_jwt: send a client_assertion, not a secret');
    }
    const previous =
      client.previousSecretExpiresAt && client.previousSecretExpiresAt > now() ? client.previousSecretHash : null;
    const ok = clientSecretMatches(clientSecret, [client.secretHash, previous]);
    if (!ok || client.disabled) throw failed();
    return client;
  };
}

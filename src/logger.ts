import type { FastifyServerOptions } from 'fastify';

// Everything that may carry a credential, wherever it appears in a log object.
const SECRET_FIELDS = [
  'password',
  'client_secret',
  'clientSecret',
  'refresh_token',
  'access_token',
  'token',
  'secret',
  'privateKey',
  'private_jwk',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `body.${f}`, `req.body.${f}`]),
];

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  if (level === 'silent') return false;
  return { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
}

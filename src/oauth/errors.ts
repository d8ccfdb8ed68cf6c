export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unsupported_token_type'
  | 'temporarily_unavailable'
  | 'server_error'
  // RFC 9449 §4.3, §8
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

const STATUS: Readonly<Record<OAuthErrorCode, number>> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  unsupported_token_type: 400,
  temporarily_unavailable: 503,
  server_error: 500,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
};

export interface OAuthErrorOptions extends ErrorOptions {
  /** HTTP status when it is not the code's usual one (413 for a body too large, 429 for a lock-out). */
  status?: number;
  /** Seconds, sent as Retry-After (429 and 503). */
  retryAfter?: number;
}

/** The one error type routes throw; the error handler is the only place it becomes a response. */
export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(
    readonly code: OAuthErrorCode,
    readonly description?: string,
    options: OAuthErrorOptions = {},
  ) {
    super(description ?? code, options);
    this.status = options.status ?? STATUS[code];
    this.retryAfter = options.retryAfter;
  }
}

/**
 * An HTTP-level refusal raised below the surfaces (ops/: load shedding, per-address rate limiting,
 * the metrics token), which carries no surface's vocabulary. Each surface's one error renderer
 * maps it: the OAuth surface to an RFC 6749 §5.2 body (oauth/error-handler.ts), the admin API to
 * problem+json. So ops/ never imports oauth/ (lower layers never import upper ones).
 */
export type HttpErrorKind =
  /** 503: shedding load; retry after `retryAfter`. */
  | 'overloaded'
  /** 429: this address sent too many requests; retry after `retryAfter`. */
  | 'rate_limited'
  /** 401: the request lacks the credentials this endpoint needs. */
  | 'unauthorized';

const STATUS: Readonly<Record<HttpErrorKind, number>> = { overloaded: 503, rate_limited: 429, unauthorized: 401 };

export interface HttpErrorOptions extends ErrorOptions {
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
}

export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(
    readonly kind: HttpErrorKind,
    /** Describes the problem in words; never quotes client input. */
    readonly description: string,
    options: HttpErrorOptions = {},
  ) {
    super(description, options);
    this.status = STATUS[kind];
    this.retryAfter = options.retryAfter;
  }
}

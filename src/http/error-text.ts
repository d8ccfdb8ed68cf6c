/**
 * RFC 6749 §5.2 (and RFC 6750 §3 for the Bearer challenge): `error_description` is limited to
 * %x20-21 / %x23-5B / %x5D-7E, printable ASCII without `"` and `\`. Every renderer of an error
 * (the OAuth body, a WWW-Authenticate challenge, the admin API's problem+json) passes its text
 * through toErrorText, so no description can break the rule, whatever a message was built from.
 * This module sits below every HTTP surface (oauth/, admin/, ops/) and imports nothing.
 */

/** The longest description sent; a longer one is cut (with "..."). */
export const ERROR_TEXT_MAX_LENGTH = 200;

const ALLOWED = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const DISALLOWED = /[^\x20\x21\x23-\x5b\x5d-\x7e]+/g;

/** True when `text` uses only the §5.2 error_description characters. */
export function isErrorText(text: string): boolean {
  return ALLOWED.test(text);
}

/**
 * `text` within the §5.2 charset and at most `max` characters: every run of other characters (a
 * quote, a backslash, a control, anything outside ASCII) becomes one `?`. Descriptions are written
 * not to need this (they describe the problem, never quote input); it is the guarantee, not the style.
 */
export function toErrorText(text: string, max = ERROR_TEXT_MAX_LENGTH): string {
  let safe = ALLOWED.test(text) ? text : text.replace(DISALLOWED, '?');
  if (safe.length > max) safe = `${safe.slice(0, Math.max(0, max - 3))}...`;
  return safe;
}

export interface ChallengeParams {
  realm?: string;
  /** An RFC 6750 §3.1 code (invalid_request, invalid_token, insufficient_scope) or RFC 6749 one. */
  error?: string;
  error_description?: string;
  /** RFC 6750 §3: space-delimited scope tokens. */
  scope?: string;
  [param: string]: string | undefined;
}

/**
 * A WWW-Authenticate challenge (RFC 9110 §11.6.1, RFC 6750 §3): `Bearer realm="…", error="…"`.
 * Every value is a quoted-string passed through toErrorText, so none can hold a quote, a
 * backslash or a line break: the header cannot be split or forged.
 */
export function authChallenge(scheme: 'Bearer' | 'Basic' | 'DPoP', params: ChallengeParams = {}): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined && /^[a-z_]+$/i.test(e[0]))
    .map(([name, value]) => `${name}="${toErrorText(value)}"`);
  return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
}

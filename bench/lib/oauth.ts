// The few OAuth requests the bench makes outside the timed runs (minting token pools, the probes
// of many_instances), and the request encodings shared by the timed runs and the ceilings.

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** client_secret_basic (RFC 6749 §2.3.1): each part form-urlencoded, then base64. */
export function basicAuthorization({ clientId, clientSecret }: ClientCredentials): string {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

export const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

export const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' } as const;

/** A client-authenticated form POST; resolves with the status and the JSON body (empty when there is none). */
export async function postForm(baseUrl: string, path: string, client: ClientCredentials, params: Record<string, string>) {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { ...FORM_HEADERS, authorization: basicAuthorization(client) },
    body: form(params),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** POST /token; resolves with the JSON response, throws on anything but 200. */
export async function tokenRequest(baseUrl: string, client: ClientCredentials, params: Record<string, string>) {
  const { status, body } = await postForm(baseUrl, '/token', client, params);
  if (status !== 200) throw new Error(`POST /token (${params.grant_type}) answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

/** POST /introspect: whether the token is active for this caller (RFC 7662); throws on anything but 200. */
export async function isActive(baseUrl: string, caller: ClientCredentials, token: string): Promise<boolean> {
  const { status, body } = await postForm(baseUrl, '/introspect', caller, { token });
  if (status !== 200) throw new Error(`POST /introspect answered ${status}: ${JSON.stringify(body)}`);
  return body.active === true;
}

/** Runs `fn` for 0..count-1 with at most `limit` calls in flight; results in order. */
export async function mapLimit<T>(count: number, limit: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string') throw new Error(`the token response has no ${name}: ${JSON.stringify(body)}`);
  return value;
}

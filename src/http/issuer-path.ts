/**
 * An issuer with a path (SIGIL_ISSUER=https://host/tenant). Sigil's routes stay at its own root,
 * so the common deployment works as it is: a reverse proxy that strips `/tenant` before passing the
 * request on. So that a deployment without such a proxy works too, a request that still carries the
 * prefix is routed as if it had been stripped: `/tenant/token` is `/token`. And RFC 8414 §3.1 puts
 * the metadata of such an issuer at `/.well-known/oauth-authorization-server/tenant` (the
 * well-known segment between host and path), which is routed to the one metadata route.
 */
export interface IssuerPath {
  /** The issuer's path (`/tenant`), or '' when it has none. */
  path: string;
  /** Fastify's `rewriteUrl`: the URL with the issuer's forms mapped onto Sigil's own routes. */
  rewriteUrl(url: string): string;
  /** Throws when a route's first segment is the issuer path's: a stripped URL would be stripped again. */
  checkRoute(routeUrl: string): void;
}

const firstSegment = (path: string) => path.split('/')[1] ?? '';

/** `wellKnown`: the well-known URIs Sigil serves for its issuer (RFC 8615), e.g. the metadata's. */
export function issuerPath(issuer: string, wellKnown: readonly string[]): IssuerPath {
  const path = new URL(issuer).pathname.replace(/\/+$/, '');
  // RFC 8414 §3.1: /.well-known/<suffix> + the issuer's path.
  const inserted = new Map(wellKnown.map((w) => [`${w}${path}`, w]));
  return {
    path,
    rewriteUrl(url) {
      if (path === '') return url;
      const q = url.indexOf('?');
      const bare = q === -1 ? url : url.slice(0, q);
      const known = inserted.get(bare);
      if (known !== undefined) return known + url.slice(bare.length);
      return url.startsWith(`${path}/`) ? url.slice(path.length) : url;
    },
    checkRoute(routeUrl) {
      if (path !== '' && firstSegment(routeUrl) === firstSegment(path)) {
        throw new Error(`SIGIL_ISSUER's path ${path} begins with the segment of Sigil's own route ${routeUrl}: choose another path`);
      }
    },
  };
}

// Page names, API routes and scrubbed URLs: route templates, never raw ids, query strings or tokens.
// Everything that leaves the browser goes through here (the transport scrubs every URL attribute
// once more before sending); the receiver collapses ids again.

/** Maps a path to its route template (`/orders/:id`), or undefined to fall back to id collapsing. */
export type RouteMatcher = (pathname: string) => string | null | undefined;

// A path segment that names a record or a person: all digits, a UUID, 12+ hex characters, an
// e-mail address, a run of 6+ digits, or a 16+ character token mixing letters and digits (base64ish).
const ID_SEGMENT =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|.*@.*|.*\d{6}.*|(?=.*\d)(?=.*[a-z])[\w+=~-]{16,})$/is;

/** query parameters kept in scrubbed URLs (`allowedQueryParams`); none by default */
let allowedParams: readonly string[] = [];

/** Sets the query parameters scrubbed URLs keep (initObservability's `allowedQueryParams`). */
export function allowQueryParams(names: readonly string[] = []): void {
  allowedParams = names;
}

/** `/orders/123/items/9f0c…` → `/orders/:id/items/:id`; no query string or fragment. */
export function collapseIds(pathname: string): string {
  const path = pathname.replace(/[?#].*$/s, '').replace(/\/{2,}/g, '/');
  const collapsed = path
    .split('/')
    .map((segment) => (segment && ID_SEGMENT.test(safeDecode(segment)) ? ':id' : segment))
    .join('/');
  return collapsed.length > 1 ? collapsed.replace(/\/+$/, '') : collapsed || '/';
}

/** The page name of a path: the app's matcher first, else the path with ids collapsed. */
export function pageName(pathname: string, matcher?: RouteMatcher): string {
  if (matcher) {
    try {
      const name = matcher(pathname);
      if (name) return collapseIds(name);
    } catch {
      // a broken matcher must not break the page; fall back to collapsing
    }
  }
  return collapseIds(pathname);
}

/** The route of a span: `url.template` (semantic conventions), and `page` with the same value for older receivers. */
export function routeAttributes(route: string): { 'url.template': string; page: string } {
  return { 'url.template': route, page: route };
}

/** The path the app routes on: a hash router's `#/path` (or `#!/path`), else the pathname. */
export function routePath(): string {
  return /^#!?(\/[^?#]*)/.exec(location.hash)?.[1] ?? location.pathname;
}

/**
 * A URL without fragment, credentials or query string (but the `allowedQueryParams`), ids in its
 * path templated: `https://shop/api/orders/42?email=bob@example.com` → `https://shop/api/orders/:id`.
 * Other schemes (`data:`, `blob:`) keep only the scheme.
 */
export function scrubUrl(raw: string): string {
  try {
    const url = new URL(raw, location.href);
    if (!/^(?:https?|wss?):$/.test(url.protocol)) return url.protocol;
    const kept = new URLSearchParams();
    for (const [key, value] of url.searchParams) if (allowedParams.includes(key)) kept.append(key, value);
    const query = kept.toString();
    return url.origin + collapseIds(url.pathname) + (query ? `?${query}` : '');
  } catch {
    return collapseIds(raw);
  }
}

/** Every URL inside a text (an error message, a stack) scrubbed; `:line:column` after it kept. */
export function scrubUrlsInText(text: string): string {
  return text.replace(/\b(?:https?|wss?):\/\/[^\s'"`()<>]+/gi, (found) => {
    const [, url = found, position = ''] = /^(.*?)((?::\d+){0,2})$/s.exec(found) ?? [];
    return scrubUrl(url) + position;
  });
}

/** An API route for a span name: same-origin paths as they are, other origins with their host. */
export function apiRoute(raw: string): string {
  try {
    const url = new URL(raw, location.href);
    const path = collapseIds(url.pathname);
    return url.origin === location.origin ? path : url.host + path;
  } catch {
    return 'unknown';
  }
}

/** `{METHOD} {route}`: the name of an HTTP client span, from its attributes. */
export function httpSpanName(attributes: Record<string, unknown>): string {
  const method = String(attributes['http.request.method'] ?? attributes['http.method'] ?? 'GET');
  const url = attributes['url.full'] ?? attributes['http.url'];
  return `${method} ${typeof url === 'string' ? apiRoute(url) : 'unknown'}`;
}

/**
 * A RouteMatcher from React Router's `matchRoutes` and the app's route objects:
 * `routeMatcher(routes, matchRoutes)` names `/orders/42` `/orders/:orderId`.
 */
export function reactRouterMatcher<R extends { path?: string }>(
  routes: R[],
  matchRoutes: (routes: R[], location: string) => { route: { path?: string } }[] | null,
): RouteMatcher {
  return (pathname) => {
    const matches = matchRoutes(routes, pathname);
    if (!matches || matches.length === 0) return undefined;
    const joined = matches
      .map((m) => m.route.path ?? '')
      .filter((p) => p !== '')
      .join('/');
    return ('/' + joined).replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

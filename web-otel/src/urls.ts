// Page names and API routes from URLs: templates, never raw ids, query strings or tokens.
// The receiver collapses ids again; doing it here keeps span names and attributes free of them.

/** Maps a path to its route template (`/orders/:id`), or undefined to fall back to id collapsing. */
export type RouteMatcher = (pathname: string) => string | null | undefined;

const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|[^/]*@[^/]*|(?=[\w-]*\d)(?=[\w-]*[a-z])[\w-]{24,})$/i;

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
      if (name) return name;
    } catch {
      // a broken matcher must not break the page; fall back to collapsing
    }
  }
  return collapseIds(pathname);
}

/** A URL without query string, fragment or credentials (referrers, error locations). */
export function scrubUrl(raw: string): string {
  try {
    const url = new URL(raw, location.href);
    return url.origin + collapseIds(url.pathname);
  } catch {
    return collapseIds(raw);
  }
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

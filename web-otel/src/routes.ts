// The page's routes over time: the landing route (at page load), every SPA navigation (history
// API, popstate, a hash router's #/path) with the time it happened, so that a web vital reported
// later is labelled with the route it was measured on, not the one current when it is reported.

/** The route history of the page. Times are `performance.now()` milliseconds. */
export interface RouteHistory {
  /** the route at page load (LCP, FCP and TTFB belong to it) */
  readonly landing: string;
  /** the route that was current at `time` */
  at(time: number): string;
  /** calls `fn` after each route change with the new route and the URL left (scrubbed) */
  onChange(fn: (route: string, from: string) => void): () => void;
  /** undoes the history patch and the listeners */
  stop(): void;
}

/** route changes remembered (with their times), the landing route aside */
const MAX_CHANGES = 100;

type HistoryMethod = 'pushState' | 'replaceState';

/**
 * Watches navigations: `path()` is the path the app routes on (pathname or hash path), a change of
 * it is a new route, named by `page()`; `url()` is the URL left, for the referrer.
 */
export function createRouteHistory(page: () => string, path: () => string, url: () => string): RouteHistory {
  const landing = page();
  const changes: [time: number, route: string][] = [];
  const listeners = new Set<(route: string, from: string) => void>();
  let current = path();
  let left = url();
  const check = (): void => {
    try {
      const now = path();
      if (now === current) return;
      const from = left;
      current = now;
      left = url();
      const route = page();
      changes.push([performance.now(), route]);
      if (changes.length > MAX_CHANGES) changes.shift();
      for (const fn of listeners) fn(route, from);
    } catch {
      // never thrown into the app's navigation
    }
  };
  const undo: (() => void)[] = [];
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    const wrapper = function (this: History, ...args: Parameters<History[HistoryMethod]>): void {
      original.apply(this, args);
      check();
    };
    history[method] = wrapper;
    undo.push(() => {
      if (history[method] === wrapper) history[method] = original; // a wrapper added on top of ours stays
    });
  }
  for (const event of ['popstate', 'hashchange']) {
    addEventListener(event, check);
    undo.push(() => removeEventListener(event, check));
  }
  return {
    landing,
    at(time) {
      let route = landing;
      for (const [t, r] of changes) {
        if (t > time) break;
        route = r;
      }
      return route;
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop() {
      undo.splice(0).forEach((f) => f());
      listeners.clear();
    },
  };
}

// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { createRouteHistory, type RouteHistory } from './routes.js';
import { pageName, routePath, scrubUrl } from './urls.js';

const matcher = (p: string) => (p.startsWith('/menu/') ? '/menu/:category' : undefined);
const page = () => pageName(routePath(), matcher);

describe('route history', () => {
  let routes: RouteHistory | undefined;
  afterEach(() => {
    routes?.stop();
    history.replaceState(null, '', '/');
  });

  it('knows the landing route and which route was current at any time since', () => {
    history.replaceState(null, '', '/');
    routes = createRouteHistory(page, routePath, () => scrubUrl(location.href));
    const seen: [string, string][] = [];
    routes.onChange((route, from) => seen.push([route, from]));
    const onLanding = performance.now();
    while (performance.now() === onLanding) {
      // the clock moves on before the navigation
    }
    history.pushState(null, '', '/menu/pizza?sort=price');
    const onMenu = performance.now();
    history.pushState(null, '', '/menu/pizza?sort=name'); // same path: not a route change
    while (performance.now() === onMenu) {
      // and again
    }
    history.replaceState(null, '', '/orders/42');
    expect(routes.landing).toBe('/');
    expect(routes.at(onLanding)).toBe('/');
    expect(routes.at(onMenu)).toBe('/menu/:category');
    expect(routes.at(performance.now())).toBe('/orders/:id');
    expect(routes.at(-1)).toBe('/'); // before anything: the landing route
    expect(seen).toEqual([
      ['/menu/:category', `${location.origin}/`],
      ['/orders/:id', `${location.origin}/menu/pizza`],
    ]);
  });

  it("follows a hash router's #/routes (hashchange, popstate)", () => {
    history.replaceState(null, '', '/#/');
    routes = createRouteHistory(page, routePath, () => scrubUrl(location.href));
    const seen: string[] = [];
    routes.onChange((route) => seen.push(route));
    history.replaceState(null, '', '/#/menu/pasta');
    dispatchEvent(new HashChangeEvent('hashchange'));
    history.replaceState(null, '', '/#/orders/9');
    dispatchEvent(new PopStateEvent('popstate'));
    history.replaceState(null, '', '/#/orders/9?tab=2'); // same route path
    dispatchEvent(new HashChangeEvent('hashchange'));
    expect(routes.landing).toBe('/');
    expect(seen).toEqual(['/menu/:category', '/orders/:id']);
  });

  it('never throws into the navigation, and restores history when stopped', () => {
    const before = history.pushState;
    routes = createRouteHistory(page, routePath, () => scrubUrl(location.href));
    routes.onChange(() => {
      throw new Error('listener bug');
    });
    expect(history.pushState).not.toBe(before);
    expect(() => history.pushState(null, '', '/menu/x')).not.toThrow();
    routes.stop();
    expect(history.pushState).toBe(before);
  });
});

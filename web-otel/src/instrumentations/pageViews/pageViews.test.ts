// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { createRouteHistory, type RouteHistory } from '../../routes.js';
import { attr, createTestTracer } from '../../testUtils/index.js';
import { pageName, routePath, scrubUrl } from '../../urls.js';
import { PageViewsInstrumentation } from './pageViews.js';

const page = () => pageName(routePath(), (p) => (p.startsWith('/menu/') ? '/menu/:category' : undefined));

describe('page views', () => {
  let instrumentation: PageViewsInstrumentation | undefined;
  let routes: RouteHistory | undefined;
  afterEach(() => {
    instrumentation?.disable();
    routes?.stop();
    history.replaceState(null, '', '/');
  });

  const start = () => {
    routes = createRouteHistory(page, routePath, () => scrubUrl(location.href));
    const t = createTestTracer('/', routes);
    instrumentation = new PageViewsInstrumentation({ documentLoad: false });
    instrumentation.enable(t.context);
    return t;
  };

  it('makes a route_change span per SPA navigation (pushState, replaceState, popstate), with url.template and page', () => {
    history.replaceState(null, '', '/');
    const t = start();
    history.pushState(null, '', '/menu/pizza');
    history.pushState(null, '', '/menu/pizza?sort=price'); // same path: not a page view
    history.replaceState(null, '', '/orders/42');
    history.pushState(null, '', '/menu/pasta');
    history.back(); // happy-dom moves synchronously; popstate as well
    dispatchEvent(new PopStateEvent('popstate'));
    const spans = t.spans();
    expect(spans.map((s) => s.name).every((n) => n === 'route_change')).toBe(true);
    expect(spans.slice(0, 3).map((s) => attr(s, 'url.template'))).toEqual(['/menu/:category', '/orders/:id', '/menu/:category']);
    expect(spans.slice(0, 3).map((s) => attr(s, 'page'))).toEqual(['/menu/:category', '/orders/:id', '/menu/:category']);
    expect(attr(spans[1], 'document.referrer')).toBe(`${location.origin}/menu/pizza`);
  });

  it('makes a page view per hash route (#/path), named by the route template of the hash path', () => {
    history.replaceState(null, '', '/#/');
    const t = start();
    history.replaceState(null, '', '/#/orders/42');
    dispatchEvent(new HashChangeEvent('hashchange'));
    history.replaceState(null, '', '/#section'); // an in-page anchor is not a hash route: the pathname is
    dispatchEvent(new HashChangeEvent('hashchange'));
    expect(t.spans().map((s) => [s.name, attr(s, 'url.template')])).toEqual([
      ['route_change', '/orders/:id'],
      ['route_change', '/'],
    ]);
  });

  it('stops on disable', () => {
    const t = start();
    instrumentation?.disable();
    history.pushState(null, '', '/menu/pizza');
    expect(t.spans()).toHaveLength(0);
  });
});

// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { attr, createTestTracer } from '../../testUtils/index.js';
import { pageName } from '../../urls.js';
import { PageViewsInstrumentation } from './pageViews.js';

describe('page views', () => {
  let instrumentation: PageViewsInstrumentation | undefined;
  afterEach(() => {
    instrumentation?.disable();
    history.replaceState(null, '', '/');
  });

  it('makes a route_change span per SPA navigation (pushState, replaceState, popstate), named by the route', () => {
    history.replaceState(null, '', '/');
    const t = createTestTracer();
    t.context.page = () => pageName(location.pathname, (p) => (p.startsWith('/menu/') ? '/menu/:category' : undefined));
    instrumentation = new PageViewsInstrumentation({ documentLoad: false });
    instrumentation.enable(t.context);
    history.pushState(null, '', '/menu/pizza');
    history.pushState(null, '', '/menu/pizza?sort=price'); // same path: not a page view
    history.replaceState(null, '', '/orders/42');
    history.pushState(null, '', '/menu/pasta');
    history.back(); // happy-dom moves synchronously; popstate as well
    dispatchEvent(new PopStateEvent('popstate'));
    const spans = t.spans();
    expect(spans.map((s) => s.name).every((n) => n === 'route_change')).toBe(true);
    expect(spans.slice(0, 3).map((s) => attr(s, 'page'))).toEqual(['/menu/:category', '/orders/:id', '/menu/:category']);
    expect(attr(spans[1], 'document.referrer')).toBe(`${location.origin}/menu/pizza`);
  });

  it('restores history on disable', () => {
    const before = history.pushState;
    instrumentation = new PageViewsInstrumentation({ documentLoad: false });
    instrumentation.enable(createTestTracer().context);
    expect(history.pushState).not.toBe(before);
    instrumentation.disable();
    expect(history.pushState).toBe(before);
  });
});

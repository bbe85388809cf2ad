// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { allowQueryParams, apiRoute, collapseIds, httpSpanName, pageName, reactRouterMatcher, routePath, scrubUrl, scrubUrlsInText } from './urls.js';

describe('page names and routes', () => {
  afterEach(() => {
    allowQueryParams([]);
    history.replaceState(null, '', '/');
  });

  it('collapses ids, uuids, hex, e-mail addresses and tokens, and drops query and fragment', () => {
    expect(collapseIds('/orders/123/items/9f0c2d7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f')).toBe('/orders/:id/items/:id');
    expect(collapseIds('/u/jane@example.com/x?y=1#z')).toBe('/u/:id/x');
    expect(collapseIds('/t/abcdef0123456789abcdef/')).toBe('/t/:id');
    expect(collapseIds('/menu/pizza')).toBe('/menu/pizza');
    expect(collapseIds('/')).toBe('/');
    expect(collapseIds('/u/bob%40example.com')).toBe('/u/:id'); // encoded @
    expect(collapseIds('/invoices/INV-20240117')).toBe('/invoices/:id'); // a run of 6+ digits
    expect(collapseIds('/reset/dGhpcyBpcyBhIHRva2Vu0w')).toBe('/reset/:id'); // base64url, letters and digits
    expect(collapseIds('/margherita-pizza/large')).toBe('/margherita-pizza/large'); // words stay
  });

  it("keeps only the allowed query parameters, and the matcher's template never carries an id", () => {
    expect(scrubUrl('https://shop/api/orders/42?email=bob@example.com')).toBe('https://shop/api/orders/:id');
    expect(scrubUrl('https://jane:pw@shop/a/b?x=1#frag')).toBe('https://shop/a/b');
    allowQueryParams(['sort', 'page']);
    expect(scrubUrl('https://shop/menu?sort=price&email=bob@example.com&page=2#top')).toBe('https://shop/menu?sort=price&page=2');
    expect(scrubUrl('data:image/png;base64,iVBORw0KGgo=')).toBe('data:');
    expect(pageName('/orders/42', () => '/orders/42')).toBe('/orders/:id'); // a matcher that echoes the path
  });

  it('scrubs the URLs inside a stack or a message, keeping line and column', () => {
    const stack = 'TypeError: x\n    at f (https://shop.example.com/orders/42?email=bob@example.com:10:5)\n    at https://shop.example.com:8443/assets/index-Bx3k9.js:1:200';
    expect(scrubUrlsInText(stack)).toBe('TypeError: x\n    at f (https://shop.example.com/orders/:id:10:5)\n    at https://shop.example.com:8443/assets/index-Bx3k9.js:1:200');
    expect(scrubUrlsInText('Failed to fetch https://api.example.com/v1/users/9f0c2d7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f?token=abc now')).toBe(
      'Failed to fetch https://api.example.com/v1/users/:id now',
    );
  });

  it("routes on a hash router's #/path, else on the pathname", () => {
    history.replaceState(null, '', '/app/orders/7?x=1#section');
    expect(routePath()).toBe('/app/orders/7');
    history.replaceState(null, '', '/#/orders/7?tab=2');
    expect(routePath()).toBe('/orders/7');
    history.replaceState(null, '', '/#!/menu/pizza');
    expect(routePath()).toBe('/menu/pizza');
  });

  it('names HTTP spans {METHOD} {route}', () => {
    expect(httpSpanName({ 'http.request.method': 'POST', 'url.full': `${location.origin}/api/orders/42?x=1` })).toBe('POST /api/orders/:id');
    expect(httpSpanName({ 'http.method': 'GET', 'http.url': 'https://db.example.co/rest/v1/orders' })).toBe('GET db.example.co/rest/v1/orders');
    expect(httpSpanName({})).toBe('GET unknown');
  });

  it('asks the matcher first, and survives a matcher that throws', () => {
    expect(pageName('/menu/pizza', (p) => (p.startsWith('/menu/') ? '/menu/:category' : undefined))).toBe('/menu/:category');
    expect(pageName('/orders/7', () => undefined)).toBe('/orders/:id');
    expect(
      pageName('/orders/7', () => {
        throw new Error('bad matcher');
      }),
    ).toBe('/orders/:id');
  });

  it("builds a matcher from React Router's matchRoutes", () => {
    const routes = [{ path: '/orders', children: [{ path: ':orderId' }] }];
    const matchRoutes = (_r: typeof routes, location: string) =>
      location.startsWith('/orders/') ? [{ route: { path: '/orders' } }, { route: { path: ':orderId' } }] : null;
    const match = reactRouterMatcher(routes, matchRoutes);
    expect(match('/orders/42')).toBe('/orders/:orderId');
    expect(match('/nowhere')).toBeUndefined();
  });

  it('scrubs URLs and names API routes by origin', () => {
    expect(scrubUrl('https://shop.example.com/track/abc123def456abc123def456?token=x')).toBe('https://shop.example.com/track/:id');
    expect(apiRoute(`${location.origin}/api/orders/42?x=1`)).toBe('/api/orders/:id');
    expect(apiRoute('https://db.example.co/rest/v1/orders')).toBe('db.example.co/rest/v1/orders');
  });
});

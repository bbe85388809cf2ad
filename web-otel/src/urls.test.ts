// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { apiRoute, collapseIds, pageName, reactRouterMatcher, scrubUrl } from './urls.js';

describe('page names and routes', () => {
  it('collapses ids, uuids, hex, e-mail addresses and tokens, and drops query and fragment', () => {
    expect(collapseIds('/orders/123/items/9f0c2d7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f')).toBe('/orders/:id/items/:id');
    expect(collapseIds('/u/jane@example.com/x?y=1#z')).toBe('/u/:id/x');
    expect(collapseIds('/t/abcdef0123456789abcdef/')).toBe('/t/:id');
    expect(collapseIds('/menu/pizza')).toBe('/menu/pizza');
    expect(collapseIds('/')).toBe('/');
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

import { describe, expect, it } from 'vitest';
import { compileRoutePatterns, labelValue, MAX_ROUTE_INPUT, redact, routeTemplate, scrubUrl } from './labels.js';

describe('routeTemplate', () => {
  it('reads at most MAX_ROUTE_INPUT characters of a hostile 64 KB value (redaction backtracks over long runs), and still gives a bounded label', () => {
    const hostile = ['a-'.repeat(32_768), 'x'.repeat(65_536), `/${'a-'.repeat(32_768)}`, `${'a.'.repeat(32_767)}@`, `https://h.example/${'9'.repeat(65_000)}`];
    for (const raw of hostile) {
      const label = routeTemplate(raw);
      expect(label.length).toBeLessThanOrEqual(120);
      // the same as the template of its first MAX_ROUTE_INPUT characters: nothing past them is read
      expect(label).toBe(routeTemplate(raw.slice(0, MAX_ROUTE_INPUT)));
    }
    expect(routeTemplate(`/orders/123${'?q='.padEnd(70_000, 'z')}`)).toBe('/orders/:id');
  });

  it('collapses ids, uuids, long hex and tokens, and drops host, query and fragment', () => {
    expect(routeTemplate('/orders/123')).toBe('/orders/:id');
    expect(routeTemplate('https://shop.example/orders/123?x=1#top')).toBe('/orders/:id');
    expect(routeTemplate('/stores/7f9c2ba4-e88f-11ee-9b2c-0242ac120002/menu')).toBe('/stores/:id/menu');
    expect(routeTemplate('/carts/deadbeefcafe1234/items/')).toBe('/carts/:id/items');
    expect(routeTemplate('/u/jane.doe@example.com')).toBe('/u/:id');
    expect(routeTemplate('/reset/eyJhbGciOiJIUzI1NiJ9abc123XYZ')).toBe('/reset/:id');
    expect(routeTemplate('/menu')).toBe('/menu');
    expect(routeTemplate('/')).toBe('/');
    expect(routeTemplate('//menu//drinks')).toBe('/menu/drinks');
  });

  it('prefers a configured pattern', () => {
    const patterns = compileRoutePatterns(['/menu/:category', '/orders/:id/track']);
    expect(routeTemplate('/menu/drinks', patterns)).toBe('/menu/:category');
    expect(routeTemplate('/orders/55/track/', patterns)).toBe('/orders/:id/track');
    expect(routeTemplate('/menu/drinks/cola', patterns)).toBe('/menu/drinks/cola');
  });

  it('keeps endpoint names that are not paths, and says unknown for nothing', () => {
    expect(routeTemplate('orders.select')).toBe('orders.select');
    expect(routeTemplate('')).toBe('unknown');
    expect(routeTemplate(42)).toBe('unknown');
    expect(routeTemplate(undefined)).toBe('unknown');
    expect(routeTemplate('x'.repeat(500))).toHaveLength(120);
  });
});

describe('redaction', () => {
  it('removes e-mail addresses and token-like strings', () => {
    expect(redact('failed for jane.doe@example.com with key sk_live_4eC39HqLyjWDarjtT1zdp7dc')).toBe(
      'failed for [email] with key [token]',
    );
    expect(redact('TypeError: x is undefined at line 42')).toBe('TypeError: x is undefined at line 42');
    expect(scrubUrl('https://a.example/p?token=abc&email=a@b.co#frag')).toBe('https://a.example/p');
  });
});

describe('labelValue', () => {
  it('makes a bounded, printable label of whatever a row holds', () => {
    expect(labelValue('checkout')).toBe('checkout');
    expect(labelValue(' a\u0000b ')).toBe('ab');
    expect(labelValue(null)).toBe('unknown');
    expect(labelValue(undefined)).toBe('unknown');
    expect(labelValue('')).toBe('unknown');
    expect(labelValue(404)).toBe('404');
    expect(labelValue({ nested: 'x'.repeat(10_000) }).length).toBe(120);
  });
});

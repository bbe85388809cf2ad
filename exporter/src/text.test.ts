import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRoutePatterns, labelValue, MAX_REDACTED_RUN, MAX_ROUTE_INPUT, redact, redactRun, routeTemplate, scrubText, scrubUrl, scrubUrlText, storable, truncate } from './text.js';

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
    expect(routeTemplate('x'.repeat(500))).toBe('[redacted]'); // a name that long is no name: the bounded redaction's run limit
    expect(routeTemplate('orders for jane@example.com')).toBe('orders for [email]');
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
    expect(labelValue({ nested: 'x y '.repeat(10_000) }).length).toBe(120);
    expect(labelValue('Error for jane@example.com')).toBe('Error for [email]');
    expect(labelValue('x'.repeat(10_000))).toBe('[redacted]'); // a run no pattern reads
  });
});

// Text made of the characters the patterns care about, so matches are frequent.
const alphabet = fc.constantFrom(...'aZ09._%+-@ /:?#=&é\n'.split(''), 'jane.doe@example.com', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123');
const text = fc.array(alphabet, { maxLength: 30 }).map((parts) => parts.join(''));

describe('redact', () => {
  it('is the two patterns over the whole text exactly, when no run of address or token characters is over the bound', () => {
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 })), (s) => {
        fc.pre(Math.max(0, ...(s.match(/[A-Za-z0-9._%+@-]+/g) ?? []).map((run) => run.length)) <= MAX_REDACTED_RUN);
        expect(redact(s)).toBe(redactRun(s));
        expect(scrubUrl(s)).toBe(redactRun(s.replace(/[?#].*$/s, '')));
      }),
      { numRuns: 2000 },
    );
  });

  it('replaces a run over the bound whole, so the patterns never see a long run (its cost: BENCHMARKS.md, Hostile text)', () => {
    expect(redact(`ok ${'a'.repeat(MAX_REDACTED_RUN + 1)} end`)).toBe('ok [redacted] end');
    expect(redact(`ok ${'a'.repeat(MAX_REDACTED_RUN)} end`)).toBe(`ok ${'a'.repeat(MAX_REDACTED_RUN)} end`);
    // Runs just under the bound, one after another, are each redacted on their own.
    const runs = `${'a-'.repeat(MAX_REDACTED_RUN / 2)} `.repeat(8);
    expect(redact(runs)).toBe(runs);
  });

  it('redacts what redact() redacts', () => {
    expect(scrubText('failed for jane.doe@example.com with key sk_live_4eC39HqLyjWDarjtT1zdp7dc', 1000)).toBe('failed for [email] with key [token]');
    expect(scrubUrlText('https://shop.example/u/jane@example.com/orders?token=abc#x', 1000)).toBe('https://shop.example/u/[email]/orders');
  });
});

describe('truncate and storable', () => {
  it('truncates without splitting a surrogate pair', () => {
    expect(truncate('abc', 5)).toBe('abc');
    expect(truncate('abcdef', 3)).toBe('abc');
    expect(truncate('ab😀', 3)).toBe('ab');
    expect(truncate('ab😀', 4)).toBe('ab😀');
  });

  it('drops NUL and replaces lone surrogates, which Postgres refuses', () => {
    expect(storable('a\u0000b')).toBe('ab');
    expect(storable('x\ud800y')).toBe('x\ufffdy');
    expect(storable('x\udc00')).toBe('x\ufffd');
    expect(storable('ok 😀\n\t')).toBe('ok 😀\n\t');
  });

  it('truncates before redacting', () => {
    // An address cut by the limit is no longer an address: the limit applies to what is kept.
    expect(scrubText('see jane@example.com', 12)).toBe('see jane@exa');
    expect(scrubText('x'.repeat(10_000), 100)).toHaveLength(100);
  });
});

// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { createTestTracer, fixedRoutes } from '../../testUtils/index.js';
import type { VitalReport, WebVitalsSource } from './types.js';
import { attributionAttributes, scrubSelector, vitalRoute, WebVitalsInstrumentation } from './webVitals.js';

function fakeSource(): WebVitalsSource & { emit(m: VitalReport): void } {
  const callbacks: ((m: VitalReport) => void)[] = [];
  const on = (cb: (m: VitalReport) => void) => void callbacks.push(cb);
  return { onLCP: on, onINP: on, onCLS: on, onFCP: on, onTTFB: on, emit: (m) => callbacks[0]?.(m) };
}

describe('web vitals', () => {
  it('makes one span per report: browser.web_vital.* with the name in lower case, delta, url.template and page', () => {
    const source = fakeSource();
    const t = createTestTracer('/orders/:id');
    const instrumentation = new WebVitalsInstrumentation({ source });
    instrumentation.enable(t.context);
    source.emit({ name: 'LCP', value: 1234.5, delta: 1234.5, rating: 'good', id: 'v5-1-2', navigationType: 'navigate' });
    source.emit({ name: 'CLS', value: 0.12, delta: 0.02, rating: 'needs-improvement', id: 'v5-3-4', navigationType: 'reload' });
    instrumentation.disable();
    source.emit({ name: 'INP', value: 50, rating: 'good', id: 'v5-5-6', navigationType: 'navigate' }); // after disable: ignored
    const spans = t.spans();
    expect(spans).toHaveLength(2);
    expect(spans[0]?.attributes).toEqual({
      'browser.web_vital.name': 'lcp',
      'browser.web_vital.value': 1234.5,
      'browser.web_vital.delta': 1234.5,
      'browser.web_vital.rating': 'good',
      'browser.web_vital.id': 'v5-1-2',
      'browser.web_vital.navigation_type': 'navigate',
      'url.template': '/orders/:id',
      page: '/orders/:id',
    });
    expect(spans[1]?.attributes).toMatchObject({ 'browser.web_vital.name': 'cls', 'browser.web_vital.value': 0.12, 'browser.web_vital.delta': 0.02 });
  });

  it('labels INP with the route of its interaction, CLS with the route of its largest shift, the rest with the landing route', () => {
    // landed on /, went to /menu/:category at 1000 ms, to /orders/:id at 5000 ms; reported on /orders/:id
    const routes = fixedRoutes('/', [
      [1_000, '/menu/:category'],
      [5_000, '/orders/:id'],
    ]);
    const base = { rating: 'good', id: 'x', navigationType: 'navigate' } as const;
    expect(vitalRoute({ ...base, name: 'INP', value: 120, entries: [{ startTime: 800 }] }, routes)).toBe('/');
    expect(vitalRoute({ ...base, name: 'INP', value: 120, entries: [{ startTime: 800 }], attribution: { interactionTime: 1_200 } }, routes)).toBe('/menu/:category');
    const shifts = [
      { startTime: 300, value: 0.01 },
      { startTime: 1_500, value: 0.2 },
      { startTime: 6_000, value: 0.05 },
    ];
    expect(vitalRoute({ ...base, name: 'CLS', value: 0.26, entries: shifts }, routes)).toBe('/menu/:category');
    expect(vitalRoute({ ...base, name: 'CLS', value: 0.26, entries: shifts, attribution: { largestShiftTime: 6_000 } }, routes)).toBe('/orders/:id');
    expect(vitalRoute({ ...base, name: 'CLS', value: 0, entries: [] }, routes)).toBe('/');
    for (const name of ['LCP', 'FCP', 'TTFB'] as const) expect(vitalRoute({ ...base, name, value: 900, entries: [{ startTime: 6_000 }] }, routes)).toBe('/');
    // restored from the back/forward cache: the route it was restored on
    vi.spyOn(performance, 'now').mockReturnValueOnce(10_000);
    expect(vitalRoute({ ...base, name: 'LCP', value: 30, navigationType: 'back-forward-cache' }, routes)).toBe('/orders/:id');
  });

  it('scrubs and bounds attribution: selectors lose ids and numbers (100 characters), URLs lose their query (200)', () => {
    expect(scrubSelector('#order-12345>div.item-998877')).toBe('#:id>div.item-:n');
    expect(scrubSelector('a[href="mailto:jane@example.com"]')).toBe('[email]');
    expect(
      attributionAttributes({ target: 'main>img#hero', url: 'https://cdn.example.com/img/hero.jpg?sig=abc', loadState: 'complete' }),
    ).toEqual({
      'browser.web_vital.attribution.element': 'main>img#:id',
      'browser.web_vital.attribution.url': 'https://cdn.example.com/img/hero.jpg',
      'browser.web_vital.attribution.load_state': 'complete',
    });
    expect(attributionAttributes({ interactionTarget: 'button.add', interactionType: 'pointer' })).toEqual({
      'browser.web_vital.attribution.element': 'button.add',
      'browser.web_vital.attribution.interaction_type': 'pointer',
    });
    const long = attributionAttributes({
      largestShiftTarget: 'body>div.layout>main.content>section.menu>ul.items>li.item>div.card>div.card-body>p.description>span.price',
      url: `https://cdn.example.com/${'a/'.repeat(150)}u/bob@example.com/42.jpg?x=1`,
    });
    expect(long['browser.web_vital.attribution.element']?.length).toBeLessThanOrEqual(100);
    expect(long['browser.web_vital.attribution.url']?.length).toBeLessThanOrEqual(200);
    expect(long['browser.web_vital.attribution.url']).not.toMatch(/bob|\?|42/);
  });
});

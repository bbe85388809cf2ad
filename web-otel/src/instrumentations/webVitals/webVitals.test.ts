// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { createTestTracer } from '../../testUtils/index.js';
import type { VitalReport, WebVitalsSource } from './types.js';
import { attributionAttributes, scrubSelector, WebVitalsInstrumentation } from './webVitals.js';

function fakeSource(): WebVitalsSource & { emit(m: VitalReport): void } {
  const callbacks: ((m: VitalReport) => void)[] = [];
  const on = (cb: (m: VitalReport) => void) => void callbacks.push(cb);
  return { onLCP: on, onINP: on, onCLS: on, onFCP: on, onTTFB: on, emit: (m) => callbacks[0]?.(m) };
}

describe('web vitals', () => {
  it('makes one span per report with the browser.web_vital.* attributes and the page', () => {
    const source = fakeSource();
    const t = createTestTracer('/orders/:id');
    const instrumentation = new WebVitalsInstrumentation({ source });
    instrumentation.enable(t.context);
    source.emit({ name: 'LCP', value: 1234.5, rating: 'good', id: 'v5-1-2', navigationType: 'navigate' });
    source.emit({ name: 'CLS', value: 0.12, rating: 'needs-improvement', id: 'v5-3-4', navigationType: 'reload' });
    instrumentation.disable();
    source.emit({ name: 'INP', value: 50, rating: 'good', id: 'v5-5-6', navigationType: 'navigate' }); // after disable: ignored
    const spans = t.spans();
    expect(spans).toHaveLength(2);
    expect(spans[0]?.attributes).toEqual({
      'browser.web_vital.name': 'LCP',
      'browser.web_vital.value': 1234.5,
      'browser.web_vital.rating': 'good',
      'browser.web_vital.id': 'v5-1-2',
      'browser.web_vital.navigation_type': 'navigate',
      page: '/orders/:id',
    });
    expect(spans[1]?.attributes['browser.web_vital.value']).toBe(0.12);
  });

  it('scrubs attribution: selectors lose ids and numbers, URLs lose their query', () => {
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
  });
});

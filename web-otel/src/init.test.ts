// @vitest-environment happy-dom
import { SpanKind, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { initObservability, type Observability } from './init.js';
import { metrics } from './metrics.js';
import { createFakeFetch, type RecordedRequest } from './testUtils/index.js';

interface Sent {
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
}

/** Every span of every request, attributes as a plain object. */
function sent(requests: RecordedRequest[]): Sent[] {
  return requests.filter((r) => r.url.endsWith('/v1/traces')).flatMap((r) =>
    (JSON.parse(r.body) as { resourceSpans: { scopeSpans: { spans: (Omit<Sent, 'attributes' | 'events'> & { attributes: { key: string; value: Record<string, unknown> }[]; events: { name: string; attributes: { key: string; value: Record<string, unknown> }[] }[] })[] }[] }[] }).resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) =>
        ss.spans.map((s) => ({
          ...s,
          attributes: Object.fromEntries(s.attributes.map((a) => [a.key, Object.values(a.value)[0]])),
          events: s.events.map((e) => ({ name: e.name, attributes: Object.fromEntries(e.attributes.map((a) => [a.key, Object.values(a.value)[0]])) })),
        })),
      ),
    ),
  );
}

function hide(): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
  document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
}

describe('initObservability', () => {
  let fake: ReturnType<typeof createFakeFetch>;
  let obs: Observability | undefined;

  beforeEach(() => {
    sessionStorage.clear();
    fake = createFakeFetch();
    vi.stubGlobal('fetch', fake.fetch);
  });
  afterEach(async () => {
    await obs?.shutdown();
    obs = undefined;
    vi.unstubAllGlobals();
  });

  it('sends the old metrics API as spans the receiver recognises, calls made before init included', async () => {
    metrics.recordPageView('/orders/42'); // before init: waits for it
    obs = initObservability({ serviceName: 'shop', serviceVersion: '1.2.3', environment: 'test', enableWebVitals: false, enablePageViews: false });
    metrics.recordAPILatency('orders.select', 150, 200);
    metrics.recordAPILatency('/rest/v1/orders', 80, 503, 'post');
    metrics.recordError('fetch_error', 'Network timeout');
    metrics.recordUserAction('add_to_cart', { itemId: 123 });
    metrics.recordPerformance('LCP', 1200);
    metrics.recordPerformance('CLS', 0.3);
    await obs.flush();
    const spans = sent(fake.requests);
    const body = JSON.parse(fake.requests[0]!.body) as { resourceSpans: { resource: { attributes: { key: string; value: { stringValue: string } }[] } }[] };
    const resource = Object.fromEntries(body.resourceSpans[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    expect(resource).toMatchObject({ 'service.name': 'shop', 'service.version': '1.2.3', 'deployment.environment.name': 'test' });
    expect(resource).not.toHaveProperty('deployment.environment');
    expect(fake.requests[0]?.url).toBe(`${location.origin}/v1/traces`);

    const byName = (n: string) => spans.filter((s) => s.name === n);
    expect(byName('page_view')[0]?.attributes.page).toBe('/orders/:id');
    const api = spans.filter((s) => s.kind === SpanKind.CLIENT + 1);
    expect(api.map((s) => [s.name, s.attributes['http.request.method'], s.attributes['http.response.status_code']])).toEqual([
      ['_OTHER orders.select', '_OTHER', 200],
      ['POST /rest/v1/orders', 'POST', 503],
    ]);
    expect(byName('exception')[0]?.events[0]?.attributes).toMatchObject({ 'exception.type': 'fetch_error', 'exception.message': 'Network timeout' });
    expect(byName('user_action')[0]?.attributes).toMatchObject({ 'user.action': 'add_to_cart', 'user.action.itemId': 123 });
    const vitals = byName('web_vital').map((s) => [s.attributes['browser.web_vital.name'], s.attributes['browser.web_vital.value'], s.attributes['browser.web_vital.rating']]);
    expect(vitals).toEqual([
      ['lcp', 1200, 'good'],
      ['cls', 0.3, 'poor'],
    ]);
    // session.id on every span, the same one
    const ids = new Set(spans.map((s) => s.attributes['session.id']));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f]{32}$/);
    expect(obs.sessionId).toBe([...ids][0]);
  });

  it('waits for a batch of 20 or the delay; hidden sends what is finished, pagehide ends the rest and sends a pending request as aborted', async () => {
    obs = initObservability({ batchDelayMs: 60_000, enableWebVitals: false, enablePageViews: false });
    for (let i = 0; i < 19; i++) obs.recordUserAction(`a${i}`);
    await Promise.resolve();
    expect(fake.requests).toHaveLength(0);
    obs.recordUserAction('a19'); // the 20th: a full batch leaves at once
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1));

    const tracer = trace.getTracer('app');
    const open = tracer.startSpan('checkout');
    const inflight = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': `${location.origin}/api/slow?q=1` } });
    obs.recordUserAction('leave');
    hide();
    expect(fake.requests).toHaveLength(2); // sent synchronously within the event
    expect(fake.requests[1]?.keepalive).toBe(true);
    expect(sent([fake.requests[1]!]).map((s) => s.name)).toEqual(['user_action']);
    expect(open.isRecording()).toBe(true); // hidden is not gone: the work goes on
    expect(inflight.isRecording()).toBe(true);

    dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false }));
    expect(fake.requests).toHaveLength(3);
    const last = sent([fake.requests[2]!]);
    expect(last.map((s) => s.name).sort()).toEqual(['GET /api/slow', 'checkout']);
    const aborted = last.find((s) => s.name === 'GET /api/slow');
    expect(aborted?.attributes['error.type']).toBe('aborted_by_unload');
    expect(aborted?.attributes['http.response.status_code']).toBeUndefined();
    expect(aborted?.attributes['url.full']).toBe(`${location.origin}/api/slow`);
    expect(open.isRecording()).toBe(false);
    expect(inflight.isRecording()).toBe(false);
  });

  it('sends nothing for a session sampled out, and never traces its own export', async () => {
    obs = initObservability({ session: { sampleRate: 0 }, enableWebVitals: false, enablePageViews: false });
    obs.recordUserAction('unsampled');
    await obs.flush();
    expect(fake.requests).toHaveLength(0);
    await obs.shutdown();

    sessionStorage.clear();
    obs = initObservability({ enableWebVitals: false, enablePageViews: false });
    await fetch('/api/menu'); // traced by the fetch instrumentation
    await new Promise((r) => setTimeout(r, 350)); // fetch spans end 300 ms after the response
    await obs.flush();
    await obs.flush();
    const names = sent(fake.requests).map((s) => s.name);
    expect(names).toContain('GET /api/menu');
    expect(names.some((n) => n.includes('/v1/traces'))).toBe(false);
  });

  it('never throws into the page: a broken beforeSend or a second init are harmless', async () => {
    const problems: string[] = [];
    obs = initObservability({
      enableWebVitals: false,
      enablePageViews: false,
      beforeSend: () => {
        throw new Error('hook bug');
      },
      debug: (m) => problems.push(m),
    });
    expect(initObservability({ debug: (m) => problems.push(m) })).toBe(obs);
    expect(problems).toContain('initObservability called twice: the first setup stays');
    expect(() => obs?.recordError(new RangeError('caught by the app'))).not.toThrow();
    await obs.flush();
    expect(fake.requests).toHaveLength(0); // the span that could not be redacted was dropped
    expect(problems).toHaveLength(1);
  });
});

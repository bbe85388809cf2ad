// @vitest-environment happy-dom
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeFetch } from '../testUtils/index.js';
import { createTransport } from './transport.js';
import type { TransportOptions } from './types.js';

interface JsonSpan {
  traceId: string;
  spanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  events: { name: string; attributes: { key: string; value: Record<string, unknown> }[] }[];
  status: { code: number; message?: string };
}
interface JsonRequest {
  resourceSpans: { resource: { attributes: { key: string }[] }; scopeSpans: { scope: { name: string }; spans: JsonSpan[] }[] }[];
}

function makeSpans(n: number, scope = 'test', attrs: Record<string, string | number> = {}): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'web' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer(scope);
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan(`span ${i}`, { kind: SpanKind.CLIENT, attributes: { i, ...attrs } });
    span.addEvent('exception', { 'exception.type': 'TypeError', 'exception.message': 'boom' });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'bad' });
    span.end();
  }
  return memory.getFinishedSpans();
}

function run(spans: ReadableSpan[], options: Partial<TransportOptions>, script?: Parameters<typeof createFakeFetch>[0]) {
  const fake = createFakeFetch(script);
  const transport = createTransport({ url: '/v1/traces', fetch: fake.fetch, ...options });
  let result: ExportResult | undefined;
  transport.export(spans, (r) => (result = r));
  const bodies = () => fake.requests.map((r) => JSON.parse(r.body) as JsonRequest);
  const allSpans = () => bodies().flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
  return { transport, fake, result: () => result, bodies, allSpans };
}

afterEach(() => {
  vi.useRealTimers();
});

/** Spans of one tracer in order: `kinds` says which is an error (e), a web vital (v) or plain (p). */
function mixedSpans(kinds: string, pad: number): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'web' }), spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('app');
  [...kinds].forEach((kind, i) => {
    const span = tracer.startSpan(`${kind}${i}`, { attributes: { pad: 'x'.repeat(pad) } });
    if (kind === 'e') span.setStatus({ code: SpanStatusCode.ERROR });
    if (kind === 'v') span.setAttribute('browser.web_vital.name', 'lcp');
    span.end();
  });
  return memory.getFinishedSpans();
}

describe('transport', () => {
  it('sends OTLP/HTTP JSON: hex ids, times as strings, OTLP kinds, attributes, events, status, resource', async () => {
    const { transport, fake, result, bodies } = run(makeSpans(1, 'scope-a', { 'http.request.method': 'GET', ratio: 0.5 }), {});
    await transport.forceFlush();
    expect(result()?.code).toBe(ExportResultCode.SUCCESS);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.keepalive).toBe(true);
    const body = bodies()[0]!;
    expect(body.resourceSpans[0]?.resource.attributes.map((a) => a.key)).toContain('service.name');
    const scope = body.resourceSpans[0]!.scopeSpans[0]!;
    expect(scope.scope.name).toBe('scope-a');
    const span = scope.spans[0]!;
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(span.kind).toBe(3); // CLIENT
    expect(span.startTimeUnixNano).toMatch(/^\d{19}$/);
    expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
    expect(span.attributes).toEqual(
      expect.arrayContaining([
        { key: 'i', value: { intValue: 0 } },
        { key: 'ratio', value: { doubleValue: 0.5 } },
        { key: 'http.request.method', value: { stringValue: 'GET' } },
      ]),
    );
    expect(span.events[0]?.name).toBe('exception');
    expect(span.status).toEqual({ code: 2, message: 'bad' });
  });

  it('packs spans into requests under the byte limit, every span once, grouped by scope', async () => {
    const spans = [...makeSpans(40, 'a', { pad: 'x'.repeat(300) }), ...makeSpans(40, 'b', { pad: 'y'.repeat(300) })];
    const { transport, fake, allSpans, bodies } = run(spans, { maxRequestBytes: 4_000 });
    await transport.forceFlush();
    expect(fake.requests.length).toBeGreaterThan(5);
    for (const r of fake.requests) expect(new TextEncoder().encode(r.body).length).toBeLessThanOrEqual(4_000);
    expect(allSpans()).toHaveLength(80);
    expect(new Set(allSpans().map((s) => s.spanId)).size).toBe(80);
    for (const b of bodies()) {
      const names = b.resourceSpans[0]!.scopeSpans.map((s) => s.scope.name);
      expect(new Set(names).size).toBe(names.length);
    }
  });

  it('keeps keepalive requests within the browser budget of 64 KB in flight', () => {
    const spans = makeSpans(100, 'a', { pad: 'z'.repeat(2_000) });
    const { fake } = run(spans, {});
    expect(fake.requests.length).toBeGreaterThan(2);
    let inflight = 0;
    for (const r of fake.requests) if (r.keepalive) inflight += r.body.length;
    expect(inflight).toBeLessThanOrEqual(64_000);
    expect(fake.requests.some((r) => !r.keepalive)).toBe(true);
  });

  it('lets beforeSend redact or drop a span; a hook that throws drops the span', async () => {
    const spans = makeSpans(3, 'a', { email: 'jane@example.com' });
    const { transport, allSpans } = run(spans, {
      beforeSend: (s) => {
        if (s.name === 'span 1') return null;
        if (s.name === 'span 2') throw new Error('hook bug');
        s.attributes.email = '[redacted]';
        return s;
      },
    });
    await transport.forceFlush();
    expect(allSpans().map((s) => s.name)).toEqual(['span 0']);
    expect(allSpans()[0]?.attributes).toContainEqual({ key: 'email', value: { stringValue: '[redacted]' } });
    expect(transport.stats.dropped).toBe(1);
  });

  it('backs off on 429 as Retry-After says, then sends the same body again', async () => {
    vi.useFakeTimers();
    const { transport, fake } = run(makeSpans(1), {}, [{ status: 429, retryAfter: '2' }, 200]);
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.requests).toHaveLength(1);
    // a new export during the back-off waits too
    transport.export(makeSpans(1), () => {});
    await vi.advanceTimersByTimeAsync(1_900);
    expect(fake.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(fake.requests).toHaveLength(3);
    expect(fake.requests[1]?.body).toBe(fake.requests[0]?.body);
    expect(transport.stats).toMatchObject({ sent: 2, retried: 1, dropped: 0 });
  });

  it('retries 503 and network failures with growing delays, at most three attempts; drops 400 at once', async () => {
    vi.useFakeTimers();
    const net = run(makeSpans(1), {}, [new TypeError('Failed to fetch'), new TypeError('Failed to fetch'), new TypeError('Failed to fetch')]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(net.fake.requests).toHaveLength(3);
    expect(net.transport.stats.dropped).toBe(1);

    const bad = run(makeSpans(1), {}, [400]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(bad.fake.requests).toHaveLength(1);
    expect(bad.transport.stats.dropped).toBe(1);

    const unavailable = run(makeSpans(1), {}, [503, 503, 200]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(unavailable.fake.requests).toHaveLength(3);
    expect(unavailable.transport.stats.sent).toBe(1);
  });

  it('never throws into the page, even when fetch itself throws', async () => {
    const transport = createTransport({
      url: '/v1/traces',
      fetch: () => {
        throw new Error('sync failure');
      },
    });
    let code: ExportResultCode | undefined;
    expect(() => transport.export(makeSpans(2), (r) => (code = r.code))).not.toThrow();
    expect(code).toBe(ExportResultCode.SUCCESS);
    await transport.shutdown();
    transport.export(makeSpans(1), (r) => (code = r.code));
    expect(code).toBe(ExportResultCode.FAILED);
  });

  it('scrubs every URL attribute before beforeSend sees the span: no query, no fragment, ids templated', async () => {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'web' }), spanProcessors: [new SimpleSpanProcessor(memory)] });
    const span = provider.getTracer('app').startSpan('GET', {
      kind: SpanKind.CLIENT,
      attributes: {
        'url.full': 'https://shop/api/orders/42?email=bob@example.com#x',
        'http.url': 'https://shop/api/orders/42?email=bob@example.com',
        'url.path': '/api/orders/42',
        'url.query': 'email=bob@example.com',
        'http.target': '/api/orders/42?email=bob@example.com',
        page: '/orders/42',
        'location.href': 'https://shop/orders/42?ref=mail#top',
        'document.referrer': 'https://mail.example.com/inbox/bob@example.com?id=7',
      },
    });
    span.addEvent('exception', { 'exception.message': 'GET https://shop/api/orders/42?token=s3cr3t failed', 'exception.stacktrace': 'at f (https://shop/app.js?v=9:1:2)' });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'https://shop/api/orders/42?token=s3cr3t' });
    span.end();
    let seen: Record<string, unknown> | undefined;
    const { transport, fake, allSpans } = run(memory.getFinishedSpans(), { beforeSend: (s) => ((seen = { ...s.attributes }), s) });
    await transport.forceFlush();
    expect(seen).toEqual({
      'url.full': 'https://shop/api/orders/:id',
      'http.url': 'https://shop/api/orders/:id',
      'url.path': '/api/orders/:id',
      'http.target': '/api/orders/:id',
      page: '/orders/:id',
      'location.href': 'https://shop/orders/:id',
      'document.referrer': 'https://mail.example.com/inbox/:id',
    });
    expect(allSpans()[0]?.events[0]?.attributes).toEqual([
      { key: 'exception.message', value: { stringValue: 'GET https://shop/api/orders/:id failed' } },
      { key: 'exception.stacktrace', value: { stringValue: 'at f (https://shop/app.js:1:2)' } },
    ]);
    expect(fake.requests[0]?.body).not.toMatch(/bob|s3cr3t|\/42|\?|#x/);
  });

  it('at close sends errors first, then web vitals, then the rest: keepalive within the 64 KB quota, beacons after, every body under the limit', () => {
    const kinds = 'p'.repeat(60) + 'e'.repeat(10) + 'v'.repeat(5) + 'p'.repeat(125); // 200 spans of ~2 KB
    const fake = createFakeFetch();
    const beacons: string[] = [];
    const transport = createTransport({ url: '/v1/traces', fetch: fake.fetch, sendBeacon: (_url, body) => (beacons.push(body), true) });
    transport.sendNow(mixedSpans(kinds, 2_000));
    const keepalive = fake.requests.filter((r) => r.keepalive);
    expect(fake.requests.filter((r) => !r.keepalive)).toHaveLength(0);
    expect(keepalive.reduce((n, r) => n + new TextEncoder().encode(r.body).length, 0)).toBeLessThanOrEqual(64_000);
    expect(beacons.length).toBeGreaterThan(3);
    const bodies = [...keepalive.map((r) => r.body), ...beacons];
    for (const b of bodies) expect(new TextEncoder().encode(b).length).toBeLessThanOrEqual(60_000);
    const order = bodies.flatMap((b) => (JSON.parse(b) as JsonRequest).resourceSpans[0]!.scopeSpans.flatMap((s) => s.spans.map((x) => x.name)));
    expect(order).toHaveLength(200);
    expect(order.slice(0, 15).map((n) => n[0]).join('')).toBe('eeeeeeeeeevvvvv');
    expect(transport.stats.beacons).toBe(beacons.length);
  });

  it('at close fills what is left of the keepalive quota, ignores a back-off, and sends the requests waiting for a retry', async () => {
    vi.useFakeTimers();
    const fake = createFakeFetch([503]);
    const beacons: string[] = [];
    const transport = createTransport({ url: '/v1/traces', fetch: fake.fetch, sendBeacon: (_url, body) => (beacons.push(body), true) });
    transport.export(mixedSpans('p', 100), () => {});
    await vi.advanceTimersByTimeAsync(0); // answered 503: waits for its retry
    expect(fake.requests).toHaveLength(1);
    transport.sendNow(mixedSpans('e', 100));
    expect(fake.requests).toHaveLength(3); // the error at once, and the waiting request with it
    expect(fake.requests.map((r) => r.keepalive)).toEqual([true, true, true]);
    expect(fake.requests[2]?.body).toBe(fake.requests[0]?.body);
    expect(beacons).toHaveLength(0);
  });

  it('falls back to a plain fetch when the beacon is refused', () => {
    const fake = createFakeFetch();
    const transport = createTransport({ url: '/v1/traces', fetch: fake.fetch, sendBeacon: () => false });
    transport.sendNow(mixedSpans('p'.repeat(100), 2_000));
    expect(fake.requests.some((r) => !r.keepalive)).toBe(true);
    expect(transport.stats.beacons).toBe(0);
  });
});

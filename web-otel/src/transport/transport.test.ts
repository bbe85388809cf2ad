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
});

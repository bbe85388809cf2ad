// @vitest-environment happy-dom
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ABORTED_BY_UNLOAD, SessionSpanProcessor, type BatchOptions } from './processor.js';
import { createSessionManager } from './session/index.js';
import type { Transport } from './transport/index.js';

function setUp(options: Partial<BatchOptions> = {}) {
  const exported: ReadableSpan[][] = [];
  const urgent: ReadableSpan[][] = [];
  const transport: Transport = {
    stats: { sent: 0, beacons: 0, dropped: 0, retried: 0 },
    export: (spans, done) => (exported.push(spans), done({ code: ExportResultCode.SUCCESS })),
    sendNow: (spans) => void urgent.push(spans),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const processor = new SessionSpanProcessor(transport, createSessionManager({}, undefined), {
    delayMs: 60_000,
    maxBatchSize: 20,
    maxQueueSize: 1_000,
    keepResourceFetches: false,
    ...options,
  });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  return { processor, exported, urgent, tracer: provider.getTracer('@opentelemetry/instrumentation-fetch'), app: provider.getTracer('app') };
}

const names = (batches: ReadableSpan[][]) => batches.flat().map((s) => s.name);

describe('span processor', () => {
  afterEach(() => vi.useRealTimers());

  it('sends a batch at maxBatchSize or after the delay, session.id on every span, resourceFetch dropped', async () => {
    vi.useFakeTimers();
    const { exported, app } = setUp({ maxBatchSize: 3, delayMs: 5_000 });
    app.startSpan('resourceFetch').end();
    for (const n of ['a', 'b', 'c']) app.startSpan(n).end();
    expect(names(exported)).toEqual(['a', 'b', 'c']);
    app.startSpan('d').end();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(exported).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(names(exported)).toEqual(['a', 'b', 'c', 'd']);
    expect(exported[1]?.[0]?.attributes['session.id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a hidden page sends what is finished and leaves a request in flight alone: it is measured when it answers', () => {
    const { processor, urgent, tracer, app } = setUp();
    app.startSpan('done').end();
    const call = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': 'http://localhost/api/slow' } });
    processor.sendFinished();
    expect(names(urgent)).toEqual(['done']);
    expect(call.isRecording()).toBe(true);
    call.setAttribute('http.response.status_code', 200); // the answer comes while hidden
    call.end();
    processor.sendFinished();
    expect(names(urgent)).toEqual(['done', 'GET']);
    expect(urgent[1]?.[0]?.attributes['error.type']).toBeUndefined();
  });

  it('pagehide ends the open spans and sends them; a request without a response is sent as aborted_by_unload', () => {
    const { processor, urgent, tracer, app } = setUp();
    const pending = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': `${location.origin}/api/orders/42?x=1` } });
    // answered, waiting for its resource timing (the fetch instrumentation ends it 300 ms later)
    const answered = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200 } });
    const work = app.startSpan('checkout');
    processor.endPage();
    expect(urgent).toHaveLength(1); // one send, all of it
    const [a, b, c] = urgent[0]!;
    expect(a?.name).toBe('GET /api/orders/:id');
    expect(a?.attributes['error.type']).toBe(ABORTED_BY_UNLOAD);
    expect(a?.attributes['http.response.status_code']).toBeUndefined();
    expect(a?.status.code).toBe(SpanStatusCode.UNSET); // not a failure
    expect(b?.attributes['error.type']).toBeUndefined();
    expect(c?.name).toBe('checkout');
    for (const s of [pending, answered, work]) expect(s.isRecording()).toBe(false);
  });

  it('keeps errors and web vitals over ordinary spans when the queue is full', () => {
    const { processor, urgent, app } = setUp({ maxQueueSize: 3, maxBatchSize: 100 });
    for (const n of ['p1', 'p2', 'p3', 'p4']) app.startSpan(n).end();
    const error = app.startSpan('boom');
    error.setStatus({ code: SpanStatusCode.ERROR });
    error.end();
    app.startSpan('web_vital', { attributes: { 'browser.web_vital.name': 'inp' } }).end();
    processor.sendFinished();
    expect(names(urgent)).toEqual(['p3', 'boom', 'web_vital']);
    expect(processor.dropped).toBe(3);
  });
});

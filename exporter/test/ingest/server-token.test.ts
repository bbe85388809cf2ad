// OTLP_SERVER_TOKEN: only a request carrying the server token may produce the server-only rows
// (edge_function, payment_failure) that page on-call and feed the business dashboards. A browser
// holding the public endpoint gets its forged spans rejected in the partial-success answer,
// counted and never stored; a wrong token is a 401, not a silent demotion to "browser".
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, waitUntilSettled, type BackendKind, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { parseExposition } from '../support/metrics.js';
import { jsonRequest, otelClient, post, storedEvents, type JsonSpanInput } from '../support/otlp.js';
import { SERVER_ONLY_REJECTION } from '../../src/ingest/spans.js';

const TOKEN = 'edge-token-0123456789abcdef0123456789abcdef';
const envFor = (kind: BackendKind, extra: Record<string, string> = {}) => ({
  ...(kind === 'pglite' ? { DB_POOL_MAX: '1' } : {}),
  COLLECTORS: 'events',
  OTLP_RATE_LIMIT_PER_MINUTE: '3',
  OTLP_DEDUPE_WINDOW_MINUTES: '0',
  ...extra,
});

const now = () => Date.now() - 1000;
const forged = (): JsonSpanInput[] => [
  { name: 'POST /stripe-webhook', kind: 2, startMs: now(), endMs: now() + 120, attributes: { 'faas.name': 'stripe-webhook', 'http.response.status_code': 200 } },
  { name: 'checkout', startMs: now(), events: [{ name: 'payment_failure', attributes: { 'payment.provider': 'stripe', 'payment.failure_reason': 'forged' } }] },
  { name: 'page_view', startMs: now(), attributes: { page: '/menu' } },
];

describeEachBackend('the server token', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    exporter = await startExporter(db.connectionString, envFor(kind, { OTLP_SERVER_TOKEN: TOKEN }));
    expect((await exporter.get('/metrics')).status).toBe(200); // the event cursor starts here
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  const scrape = async () => {
    await waitUntilSettled(exporter.pool);
    return parseExposition((await exporter.get('/metrics')).body);
  };

  it('without it: edge function spans and payment_failure events are rejected in the partial-success answer, counted, never stored', async () => {
    const res = await post(exporter.url, jsonRequest(forged()));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ partialSuccess: { rejectedSpans: 2, errorMessage: `rejected 2 spans: ${SERVER_ONLY_REJECTION}` } });
    expect((await storedEvents(exporter.pool)).map((e) => e.event_type)).toEqual(['page_view']);
    const series = await scrape();
    expect(series.get('cc_otlp_spans_total{outcome="rejected"}')).toBe(2);
    expect(series.get('cc_events_total{event_type="payment_failure"}')).toBe(0);
    expect(series.get('cc_events_total{event_type="edge_function"}')).toBe(0);
  });

  it('with a wrong token or another scheme: 401 with WWW-Authenticate, nothing stored', async () => {
    const before = (await storedEvents(exporter.pool)).length;
    // the address's rate limit is 3 a minute and the request above spent one: guesses count against it
    const guesses = [`Bearer ${TOKEN.slice(0, -1)}x`, `Basic ${Buffer.from(`edge:${TOKEN}`).toString('base64')}`, 'Bearer', `Bearer ${TOKEN} extra`];
    for (const [i, authorization] of guesses.entries()) {
      const res = await post(exporter.url, jsonRequest(forged()), { headers: { authorization } });
      if (i >= 2) {
        expect(res.status, authorization).toBe(429);
        continue;
      }
      expect(res.status, authorization).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="otlp"');
      expect(res.json()).toEqual({ code: 16, message: 'invalid server token' });
    }
    expect((await storedEvents(exporter.pool)).length).toBe(before);
    const series = await scrape();
    expect(series.get('cc_otlp_requests_total{code="401"}')).toBe(2);
    expect(series.get('cc_otlp_requests_total{code="429"}')).toBe(2);
  });

  it('with it (the official exporter, protobuf): edge_function and payment_failure rows, their series and the alert input move; no per-address rate limit', async () => {
    const { provider } = otelClient(exporter.url, 'protobuf', { 'service.name': 'edge' }, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const tracer = provider.getTracer('@connect-observability/edge', '0.1.0');
    for (let i = 0; i < 5; i++) {
      // five requests against a limit of three a minute: a server is not one browser
      const span = tracer.startSpan('POST /stripe-webhook', { kind: SpanKind.SERVER, attributes: { 'faas.name': 'stripe-webhook', 'http.request.method': 'POST' } });
      if (i === 0) span.addEvent('payment_failure', { 'payment.provider': 'stripe', 'payment.failure_reason': 'card_declined', 'order.id': 'ord_1', 'payment.amount': 18.5 });
      span.setAttribute('http.response.status_code', i === 4 ? 500 : 200);
      if (i === 4) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      await provider.forceFlush();
    }
    await provider.shutdown();
    const rows = await storedEvents(exporter.pool, `event_type IN ('edge_function', 'payment_failure')`);
    expect(rows.map((r) => r.event_type)).toEqual(['edge_function', 'payment_failure', 'edge_function', 'edge_function', 'edge_function', 'edge_function']);
    expect(rows[1]!.event_data).toEqual({ provider: 'stripe', reason: 'card_declined', order_id: 'ord_1', amount: 18.5, service: 'edge' });
    const series = await scrape();
    expect(series.get('cc_payment_failures_total{provider="stripe",reason="card_declined"}')).toBe(1);
    expect(series.get('cc_events_total{event_type="payment_failure"}')).toBe(1);
    expect(series.get('cc_edge_function_duration_seconds_count{function="stripe-webhook",status="success",service="edge",env="unknown",release="unknown"}')).toBe(4);
    expect(series.get('cc_edge_function_duration_seconds_count{function="stripe-webhook",status="error",service="edge",env="unknown",release="unknown"}')).toBe(1);
    expect(series.get('cc_otlp_requests_total{code="429"}')).toBe(2); // the guesses above, none since
  });
});

describeEachBackend('a receiver without a server token', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    exporter = await startExporter(db.connectionString, envFor(kind));
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it('refuses any credential with a 401 that says so, and rejects server-only spans from browsers as before', async () => {
    const res = await post(exporter.url, jsonRequest(forged()), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 16, message: expect.stringContaining('no OTLP_SERVER_TOKEN') as unknown });
    const browser = await post(exporter.url, jsonRequest(forged()));
    expect(browser.json()).toMatchObject({ partialSuccess: { rejectedSpans: 2 } });
    expect((await storedEvents(exporter.pool)).map((e) => e.event_type)).toEqual(['page_view']);
  });
});

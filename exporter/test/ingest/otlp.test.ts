// The receiver with the official OpenTelemetry JS exporters as clients (OTLP/HTTP JSON, gzip
// and protobuf): every kind of span becomes exactly the runtime_metrics row the app's own
// writers make, and the event collector turns those rows into the /metrics series.
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, waitUntilSettled, type BackendKind, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { parseExposition } from '../support/metrics.js';
import { jsonRequest, otelClient, post, storedEvents, T0_MS, type ClientEncoding } from '../support/otlp.js';
import { encodeProtobufResponse } from '../../src/ingest/decode.js';

const envFor = (kind: BackendKind) => ({
  ...(kind === 'pglite' ? { DB_POOL_MAX: '1' } : {}),
  ROUTE_PATTERNS: '/menu/:category',
  OTLP_RATE_LIMIT_PER_MINUTE: '0',
});

const at = (ms: number) => new Date(T0_MS + ms);
const iso = (ms: number) => `${new Date(T0_MS + ms).toISOString().slice(0, -1)}000Z`;

/** One span of every kind, the way the browser instrumentations (and issue #4's library) make them. */
function emitEveryKind(provider: BasicTracerProvider): void {
  const tracer = (scope: string): Tracer => provider.getTracer(scope, '0.1.0');

  const fetchSpan = tracer('@opentelemetry/instrumentation-fetch').startSpan('HTTP GET', {
    kind: SpanKind.CLIENT,
    startTime: at(0),
    attributes: { 'http.request.method': 'GET', 'url.full': 'https://api.example.com/rest/v1/orders/42?select=*&apikey=sk_live_4eC39HqLyjWDarjtT1zdp7dc' },
  });
  fetchSpan.setAttribute('http.response.status_code', 200);
  fetchSpan.end(at(180));

  const failedXhr = tracer('@opentelemetry/instrumentation-xml-http-request').startSpan('POST', {
    kind: SpanKind.CLIENT,
    startTime: at(200),
    attributes: { 'http.method': 'POST', 'http.url': 'https://api.example.com/rest/v1/orders' },
  });
  failedXhr.setStatus({ code: SpanStatusCode.ERROR, message: 'network error' });
  failedXhr.end(at(1200));

  tracer('@opentelemetry/instrumentation-document-load')
    .startSpan('documentLoad', { startTime: at(1300), attributes: { 'http.url': 'https://shop.example/menu/pizza?utm=x', 'http.user_agent': 'Mozilla/5.0 (test)' } })
    .end(at(1900));
  tracer('@opentelemetry/instrumentation-document-load')
    .startSpan('resourceFetch', { startTime: at(1300), attributes: { 'http.url': 'https://shop.example/app.js' } })
    .end(at(1400));

  tracer('@connect-observability/web-otel')
    .startSpan('route_change', { startTime: at(2000), attributes: { page: '/orders/123/track', 'document.referrer': 'https://shop.example/checkout?email=jane@example.com' } })
    .end(at(2000));

  tracer('@connect-observability/web-otel')
    .startSpan('web-vital', {
      startTime: at(2100),
      attributes: {
        'browser.web_vital.name': 'LCP',
        'browser.web_vital.value': 2300,
        'browser.web_vital.rating': 'good',
        'browser.web_vital.id': 'v5-123',
        'browser.web_vital.navigation_type': 'navigate',
        'url.path': '/menu/pizza',
      },
    })
    .end(at(2100));

  tracer('@opentelemetry/instrumentation-user-interaction')
    .startSpan('click', { startTime: at(2200), attributes: { 'user.action': 'add_to_cart', 'user.action.item_id': 123, event_type: 'click' } })
    .end(at(2250));

  const render = tracer('@connect-observability/web-otel').startSpan('render', { startTime: at(2300), attributes: { 'url.full': 'https://shop.example/cart' } });
  const error = new TypeError('cart is undefined for jane@example.com');
  error.stack = 'TypeError: cart is undefined for jane@example.com\n    at Cart (https://shop.example/assets/index.js:1:100)';
  render.recordException(error, at(2310));
  render.setStatus({ code: SpanStatusCode.ERROR });
  render.end(at(2320));

  const checkout = tracer('@connect-observability/web-otel').startSpan('checkout', { startTime: at(2400), attributes: { page: '/checkout' } });
  checkout.setStatus({ code: SpanStatusCode.ERROR, message: 'payment form failed' });
  checkout.end(at(2500));

  tracer('@connect-observability/web-otel').startSpan('compute totals', { startTime: at(2600) }).end(at(2610));
}

function expectedRows(sessionId: string) {
  const rows = [
    { created_at: iso(180), session_id: sessionId, event_type: 'api_latency', event_data: { endpoint: '/rest/v1/orders/:id', latency_ms: 180, status: 200, method: 'GET' } },
    { created_at: iso(1200), session_id: sessionId, event_type: 'api_latency', event_data: { endpoint: '/rest/v1/orders', latency_ms: 1000, status: 0, method: 'POST' } },
    { created_at: iso(1900), session_id: sessionId, event_type: 'page_view', event_data: { page: '/menu/:category', referrer: null, userAgent: 'Mozilla/5.0 (test)' } },
    { created_at: iso(2000), session_id: sessionId, event_type: 'page_view', event_data: { page: '/orders/:id/track', referrer: 'https://shop.example/checkout', userAgent: null } },
    { created_at: iso(2100), session_id: sessionId, event_type: 'performance', event_data: { metric: 'LCP', value: 2300, rating: 'good', page: '/menu/:category' } },
    { created_at: iso(2250), session_id: sessionId, event_type: 'user_action', event_data: { action: 'add_to_cart', metadata: { item_id: 123 } } },
    {
      created_at: iso(2320),
      session_id: sessionId,
      event_type: 'error',
      event_data: {
        error_type: 'TypeError',
        message: 'cart is undefined for [email]',
        stack: 'TypeError: cart is undefined for [email]\n    at Cart (https://shop.example/assets/index.js:1:100)',
        url: 'https://shop.example/cart',
      },
    },
    { created_at: iso(2500), session_id: sessionId, event_type: 'error', event_data: { error_type: 'span_error', message: 'payment form failed', stack: null, url: '/checkout' } },
  ];
  return rows.map((row) => ({ ...row, event_data: { ...row.event_data, ...DIMENSIONS } }));
}

/** Where the spans come from (resource), and the labels and row keys that says. */
const RESOURCE = { 'deployment.environment.name': 'production', 'service.version': '1.2.3' };
const DIMENSIONS = { service: 'connect-web', env: 'production', release: '1.2.3' };
const LABELS = 'service="connect-web",env="production",release="1.2.3"';

describeEachBackend('OTLP receiver with the OpenTelemetry JS exporters', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    exporter = await startExporter(db.connectionString, envFor(kind));
    // The event collector starts counting at the end of the table, at its first scrape.
    expect((await exporter.get('/metrics')).status).toBe(200);
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it.each<ClientEncoding>(['json', 'json+gzip', 'protobuf'])('stores every kind of span as its exact row (%s)', async (encoding) => {
    const sessionId = `sess-${encoding}`;
    const { provider } = otelClient(exporter.url, encoding, { 'session.id': sessionId, ...RESOURCE });
    try {
      emitEveryKind(provider);
      await provider.forceFlush(); // rejects unless the export succeeded
    } finally {
      await provider.shutdown();
    }
    // The exporter groups spans by scope, so rows come in scope order: compare by time.
    const rows = await storedEvents(exporter.pool, `session_id = '${sessionId}'`);
    expect(rows.sort((a, b) => a.created_at.localeCompare(b.created_at))).toEqual(expectedRows(sessionId));
  });

  it('shows the spans in /metrics through the event collector', async () => {
    await waitUntilSettled(exporter.pool); // other test files' transactions on the server hold back the cursor
    await exporter.get('/metrics'); // new label sets appear at 0 first
    const series = parseExposition((await exporter.get('/metrics')).body);
    // three clients sent one of each
    expect(series.get(`cc_api_request_duration_seconds_count{endpoint="/rest/v1/orders/:id",method="GET",status_class="2xx",${LABELS}}`)).toBe(3);
    expect(series.get(`cc_api_request_duration_seconds_count{endpoint="/rest/v1/orders",method="POST",status_class="network",${LABELS}}`)).toBe(3);
    expect(series.get(`cc_page_views_total{page="/menu/:category",${LABELS}}`)).toBe(3);
    expect(series.get(`cc_page_views_total{page="/orders/:id/track",${LABELS}}`)).toBe(3);
    expect(series.get(`cc_frontend_errors_total{error_type="TypeError",${LABELS}}`)).toBe(3);
    expect(series.get(`cc_frontend_errors_total{error_type="span_error",${LABELS}}`)).toBe(3);
    expect(series.get(`cc_web_vital_lcp_seconds_count{page="/menu/:category",rating="good",${LABELS}}`)).toBe(3);
    expect(series.get(`cc_web_vital_lcp_seconds_sum{page="/menu/:category",rating="good",${LABELS}}`)).toBeCloseTo(6.9, 9);
    expect(series.get(`cc_user_actions_total{action="add_to_cart",${LABELS}}`)).toBe(3);
  });

  it('answers partial success for spans without times, in the request encoding, and stores the rest', async () => {
    const body = jsonRequest(
      [
        { name: 'page_view', attributes: { page: '/partial', 'session.id': 'sess-partial' } },
        { name: 'page_view', attributes: { page: '/partial', 'session.id': 'sess-partial' } },
      ],
      { scope: 'app' },
    ) as { resourceSpans: [{ scopeSpans: [{ spans: Record<string, unknown>[] }] }] };
    delete body.resourceSpans[0].scopeSpans[0].spans[1]!.endTimeUnixNano;
    const res = await post(exporter.url, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.json()).toEqual({ partialSuccess: { rejectedSpans: 1, errorMessage: 'rejected 1 span: missing or invalid start or end time' } });
    expect(await storedEvents(exporter.pool, `session_id = 'sess-partial'`)).toHaveLength(1);

    const ok = await post(exporter.url, jsonRequest([{ name: 'page_view', attributes: { page: '/whole' } }]));
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({});
  });

  it('counts its answers by status and the spans it accepted and rejected', async () => {
    const counts = async () => {
      const series = parseExposition((await exporter.get('/metrics')).body);
      const pick = (key: string) => series.get(key) ?? Number.NaN;
      return {
        ok: pick('cc_otlp_requests_total{code="200"}'),
        bad: pick('cc_otlp_requests_total{code="400"}'),
        unsupported: pick('cc_otlp_requests_total{code="415"}'),
        accepted: pick('cc_otlp_spans_total{outcome="accepted"}'),
        rejected: pick('cc_otlp_spans_total{outcome="rejected"}'),
      };
    };
    const before = await counts();
    const partial = jsonRequest([{ name: 'page_view', attributes: { page: '/counted' } }, { name: 'page_view', attributes: { page: '/counted' } }]) as {
      resourceSpans: [{ scopeSpans: [{ spans: Record<string, unknown>[] }] }];
    };
    delete partial.resourceSpans[0].scopeSpans[0].spans[0]!.startTimeUnixNano;
    expect((await post(exporter.url, partial)).status).toBe(200);
    expect((await post(exporter.url, '{"resourceSpans": 7}')).status).toBe(400);
    expect((await post(exporter.url, 'x', { headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    const after = await counts();
    expect({
      ok: after.ok - before.ok,
      bad: after.bad - before.bad,
      unsupported: after.unsupported - before.unsupported,
      accepted: after.accepted - before.accepted,
      rejected: after.rejected - before.rejected,
    }).toEqual({ ok: 1, bad: 1, unsupported: 1, accepted: 1, rejected: 1 });
  });

  it('answers protobuf with an ExportTraceServiceResponse', async () => {
    const res = await post(exporter.url, new Uint8Array(0), { headers: { 'content-type': 'application/x-protobuf' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect(res.body).toEqual(Buffer.from(encodeProtobufResponse()));
  });
});

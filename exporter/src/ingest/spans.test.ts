import { describe, expect, it } from 'vitest';
import { compileRoutePatterns } from '../text.js';
import type { AttributeValue, ReceivedSpan } from './decode.js';
import { classifySpan, isoFromNanos, MAX_EXCEPTIONS_PER_SPAN, SERVER_ONLY_REJECTION, spansToRows, spanToRows, type NewEventRow } from './spans.js';

const options = { routePatterns: compileRoutePatterns(['/menu/:category']), maxAttributeLength: 200 };
const T0 = 1_736_942_400_000_000_000n; // 2025-01-15T12:00:00Z
const END = '2025-01-15T12:00:00.250000Z';

function span(overrides: Partial<Omit<ReceivedSpan, 'attributes' | 'resource'>> & {
  attributes?: Record<string, AttributeValue>;
  resource?: Record<string, AttributeValue>;
}): ReceivedSpan {
  return {
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    name: 'span',
    kind: 1,
    startTimeUnixNano: T0,
    endTimeUnixNano: T0 + 250_000_000n,
    events: [],
    statusCode: 0,
    statusMessage: '',
    scopeName: 'app',
    ...overrides,
    attributes: new Map(Object.entries(overrides.attributes ?? {})),
    resource: new Map(Object.entries(overrides.resource ?? {})),
  };
}

const exception = (attributes: Record<string, AttributeValue>) => ({ name: 'exception', timeUnixNano: T0, attributes: new Map(Object.entries(attributes)) });

describe('fetch and XHR spans', () => {
  it('become api_latency rows with the route template, duration, status and method', () => {
    const fetchSpan = span({
      name: 'HTTP GET',
      kind: 3,
      scopeName: '@opentelemetry/instrumentation-fetch',
      attributes: {
        'url.full': 'https://api.example.com/rest/v1/orders/123?select=*&apikey=secret#x',
        'http.request.method': 'get',
        'http.response.status_code': 200,
        'session.id': 'sess-span',
      },
      resource: { 'session.id': 'sess-resource' },
    });
    expect(spanToRows(fetchSpan, options)).toEqual([
      {
        createdAt: END,
        sessionId: 'sess-span',
        eventType: 'api_latency',
        eventData: { endpoint: '/rest/v1/orders/:id', latency_ms: 250, status: 200, method: 'GET' },
      },
    ]);
  });

  it('read the older semantic conventions too, and the session from the resource', () => {
    const xhr = span({
      scopeName: '@opentelemetry/instrumentation-xml-http-request',
      startTimeUnixNano: T0,
      endTimeUnixNano: T0 + 1_234_567n,
      attributes: { 'http.url': '/api/menu/drinks', 'http.method': 'POST', 'http.status_code': 503 },
      resource: { 'session.id': 'sess-resource' },
    });
    expect(spanToRows(xhr, options)).toEqual([
      {
        createdAt: '2025-01-15T12:00:00.001234Z',
        sessionId: 'sess-resource',
        eventType: 'api_latency',
        eventData: { endpoint: '/api/menu/drinks', latency_ms: 1.234567, status: 503, method: 'POST' },
      },
    ]);
  });

  it('say status 0 when there was no response, and make no error row for an error status', () => {
    const failed = span({ kind: 3, scopeName: 'custom', statusCode: 2, statusMessage: 'Failed to fetch', attributes: { 'http.request.method': 'GET', 'url.full': 'https://x.example/api/cart' } });
    expect(spanToRows(failed, options)).toEqual([
      { createdAt: END, sessionId: null, eventType: 'api_latency', eventData: { endpoint: '/api/cart', latency_ms: 250, status: 0, method: 'GET' } },
    ]);
  });

  it('are not made for the uploads of spans themselves', () => {
    for (const url of ['https://shop.example/v1/traces', '/otel/v1/traces?x=1', 'http://localhost:9464/v1/traces/']) {
      const upload = span({ kind: 3, scopeName: '@opentelemetry/instrumentation-fetch', attributes: { 'http.request.method': 'POST', 'url.full': url } });
      expect(spanToRows(upload, options), url).toEqual([]);
    }
    const lookalike = span({ kind: 3, scopeName: '@opentelemetry/instrumentation-fetch', attributes: { 'url.full': 'https://shop.example/v1/traces-archive' } });
    expect(spanToRows(lookalike, options)).toHaveLength(1);
  });

  it('keep endpoint names that are not URLs, and say unknown for no URL', () => {
    const named = span({ kind: 3, attributes: { 'http.request.method': 'GET', 'url.full': 'orders.select' } });
    expect(spanToRows(named, options)).toMatchObject([{ eventData: { endpoint: 'orders.select', method: 'GET' } }]);
    const nameless = span({ scopeName: '@opentelemetry/instrumentation-fetch' });
    expect(spanToRows(nameless, options)).toMatchObject([{ eventData: { endpoint: 'unknown', status: 0, method: null } }]);
  });
});

describe('page views', () => {
  it('come from the document-load span, with the referrer scrubbed and the user agent', () => {
    const load = span({
      name: 'documentLoad',
      scopeName: '@opentelemetry/instrumentation-document-load',
      attributes: { 'http.url': 'https://shop.example/orders/42?ref=mail', 'http.user_agent': 'Mozilla/5.0 (X11)' },
    });
    expect(spanToRows(load, { ...options })).toEqual([
      { createdAt: END, sessionId: null, eventType: 'page_view', eventData: { page: '/orders/:id', referrer: null, userAgent: 'Mozilla/5.0 (X11)' } },
    ]);
  });

  it('come from spans named page_view or route_change, and from user-interaction navigations', () => {
    const pageView = span({
      name: 'page_view',
      attributes: { page: '/menu/pizza', 'document.referrer': 'https://mail.example/read?id=7&to=jane@example.com' },
      resource: { 'user_agent.original': 'UA/1' },
    });
    expect(spanToRows(pageView, options)).toEqual([
      { createdAt: END, sessionId: null, eventType: 'page_view', eventData: { page: '/menu/:category', referrer: 'https://mail.example/read', userAgent: 'UA/1' } },
    ]);
    const navigation = span({ name: 'Navigation: /checkout', scopeName: '@opentelemetry/instrumentation-user-interaction', attributes: { event_type: 'click' } });
    expect(spanToRows(navigation, options)).toMatchObject([{ eventType: 'page_view', eventData: { page: '/checkout' } }]);
    const routeChange = span({ name: 'route_change', attributes: { 'url.full': 'https://shop.example/track/7f9c2ba4-e88f-11ee-9b2c-0242ac120002' } });
    expect(spanToRows(routeChange, options)).toMatchObject([{ eventData: { page: '/track/:id' } }]);
  });

  it('do not come from the resource fetches of document load', () => {
    const resourceFetch = span({ name: 'resourceFetch', scopeName: '@opentelemetry/instrumentation-document-load', attributes: { 'http.url': 'https://cdn.example/app.js' } });
    expect(classifySpan(resourceFetch)).toBe('other');
    expect(spanToRows(resourceFetch, options)).toEqual([]);
  });
});

describe('web vitals', () => {
  it('become performance rows: ms for timings, unitless CLS, rating when valid', () => {
    const lcp = span({
      name: 'web-vital',
      attributes: {
        'browser.web_vital.name': 'LCP',
        'browser.web_vital.value': 2300.5,
        'browser.web_vital.rating': 'good',
        'browser.web_vital.id': 'v4-1',
        'browser.web_vital.navigation_type': 'navigate',
        'url.path': '/menu/drinks',
      },
    });
    expect(spanToRows(lcp, options)).toEqual([
      { createdAt: END, sessionId: null, eventType: 'performance', eventData: { metric: 'LCP', value: 2300.5, rating: 'good', page: '/menu/:category' } },
    ]);
    const cls = span({ attributes: { 'browser.web_vital.name': 'cls', 'browser.web_vital.value': 0.12, 'browser.web_vital.rating': 'meh' } });
    expect(spanToRows(cls, options)).toMatchObject([{ eventData: { metric: 'CLS', value: 0.12, rating: null, page: 'unknown' } }]);
  });

  it('are rejected without a known name or a numeric value', () => {
    expect(spanToRows(span({ attributes: { 'browser.web_vital.name': 'XYZ', 'browser.web_vital.value': 1 } }), options)).toMatch(/not one of LCP/);
    expect(spanToRows(span({ attributes: { 'browser.web_vital.name': 'INP', 'browser.web_vital.value': '12' } }), options)).toMatch(/not a non-negative number/);
  });
});

describe('user actions', () => {
  it('come from the user.action attribute, with user.action.* as small scrubbed metadata', () => {
    const action = span({
      name: 'add to cart',
      scopeName: '@opentelemetry/instrumentation-user-interaction',
      attributes: {
        'user.action': 'add_to_cart',
        'user.action.item_id': 123,
        'user.action.gift': true,
        'user.action.note': `for jane@example.com ${'y '.repeat(200)}`,
        'user.action.tags': ['a'],
        event_type: 'click',
      },
    });
    expect(spanToRows(action, options)).toEqual([
      {
        createdAt: END,
        sessionId: null,
        eventType: 'user_action',
        eventData: { action: 'add_to_cart', metadata: { item_id: 123, gift: true, note: `for [email] ${'y '.repeat(200).slice(0, 256 - 'for jane@example.com '.length)}` } },
      },
    ]);
  });

  it('are not every click', () => {
    expect(spanToRows(span({ name: 'click', scopeName: '@opentelemetry/instrumentation-user-interaction', attributes: { event_type: 'click' } }), options)).toEqual([]);
  });
});

describe('errors', () => {
  it('come from every exception event, truncated and redacted, next to the span own row', () => {
    const stack = `Error: token sk_live_4eC39HqLyjWDarjtT1zdp7dc\n    at f (https://shop.example/app.js:1:2)\n${'    at g\n'.repeat(50)}`;
    const withException = span({
      name: 'documentLoad',
      scopeName: '@opentelemetry/instrumentation-document-load',
      attributes: { 'http.url': 'https://shop.example/checkout?email=jane@example.com' },
      events: [
        exception({ 'exception.type': 'TypeError', 'exception.message': 'x is undefined for jane@example.com', 'exception.stacktrace': stack }),
        { name: 'not-an-exception', timeUnixNano: T0, attributes: new Map() },
      ],
    });
    const rows = spanToRows(withException, options);
    expect(rows).toEqual([
      { createdAt: END, sessionId: null, eventType: 'page_view', eventData: { page: '/checkout', referrer: null, userAgent: null } },
      {
        createdAt: END,
        sessionId: null,
        eventType: 'error',
        eventData: {
          error_type: 'TypeError',
          message: 'x is undefined for [email]',
          // truncated to 200 first, then redacted
          stack: stack.slice(0, 200).replace('sk_live_4eC39HqLyjWDarjtT1zdp7dc', '[token]'),
          url: 'https://shop.example/checkout',
        },
      },
    ]);
  });

  it('come from an error status when no exception was recorded', () => {
    const failed = span({ name: 'checkout', statusCode: 2, statusMessage: 'payment form crashed', attributes: { 'error.type': 'CheckoutError', page: '/checkout' } });
    expect(spanToRows(failed, options)).toEqual([
      { createdAt: END, sessionId: null, eventType: 'error', eventData: { error_type: 'CheckoutError', message: 'payment form crashed', stack: null, url: '/checkout' } },
    ]);
    const bare = span({ name: 'render', statusCode: 2 });
    expect(spanToRows(bare, options)).toMatchObject([{ eventData: { error_type: 'span_error', message: 'render', stack: null, url: null } }]);
  });

  it('are at most a few per span, with a capped error_type', () => {
    const noisy = span({ events: Array.from({ length: 50 }, () => exception({ 'exception.type': 'TypeError '.repeat(50) })) });
    const rows = spanToRows(noisy, options) as NewEventRow[];
    expect(rows).toHaveLength(MAX_EXCEPTIONS_PER_SPAN);
    expect(rows[0]?.eventData.error_type).toHaveLength(120);
  });
});

describe('other spans and rejections', () => {
  it('accept other spans without a row', () => {
    expect(spanToRows(span({ name: 'internal work' }), options)).toEqual([]);
  });

  it('reject spans with missing or inverted times, and count them for partial success', () => {
    const result = spansToRows(
      [
        span({ startTimeUnixNano: undefined }),
        span({ endTimeUnixNano: undefined }),
        span({ startTimeUnixNano: T0 + 1n, endTimeUnixNano: T0 }),
        span({ name: 'page_view', attributes: { page: '/' } }),
      ],
      options,
    );
    expect(result.rejectedSpans).toBe(3);
    expect(result.rejections).toEqual(['2 spans: missing or invalid start or end time', '1 span: end time before start time']);
    expect(result.rows).toEqual([{ createdAt: END, sessionId: null, eventType: 'page_view', eventData: { page: '/', referrer: null, userAgent: null } }]);
  });

  it('reject spans with invalid ids or clocks out of range (before 2000, over a day ahead), never stored', () => {
    const dayAhead = BigInt(Date.now() + 86_400_000 + 60_000) * 1_000_000n;
    const result = spansToRows(
      [
        span({ name: 'page_view', attributes: { page: '/a' }, traceId: undefined }),
        span({ name: 'page_view', attributes: { page: '/b' }, spanId: undefined }),
        span({ name: 'page_view', attributes: { page: '/c' }, startTimeUnixNano: 1n, endTimeUnixNano: 2n }),
        span({ name: 'page_view', attributes: { page: '/d' }, startTimeUnixNano: dayAhead, endTimeUnixNano: dayAhead }),
        span({ name: 'page_view', attributes: { page: '/e' } }),
      ],
      options,
    );
    expect(result.rejections).toEqual([
      '2 spans: missing or invalid trace or span id',
      '1 span: start time before the year 2000',
      "1 span: end time more than a day ahead of the receiver's clock",
    ]);
    expect(result.rows.map((r) => r.eventData.page)).toEqual(['/e']);
  });

  it('never store NUL or lone surrogates, which Postgres refuses', () => {
    const nasty = span({ name: 'page_view', attributes: { page: '/a\u0000b', 'session.id': 's\u0000\ud800', 'document.referrer': 'https://x\u0000\udc00' } });
    const [row] = spanToRows(nasty, options) as { sessionId: string; eventData: Record<string, unknown> }[];
    expect(JSON.stringify(row)).not.toMatch(/\\u0000|\\ud[89a-f]/i);
    expect(row?.sessionId).toBe('s\ufffd');
  });
});

describe('server-only telemetry (edge function spans, payment failures)', () => {
  const trusted = { ...options, trusted: true };
  const edge = (overrides: Parameters<typeof span>[0] = {}) =>
    span({ name: 'POST /stripe-webhook', kind: 2, attributes: { 'faas.name': 'stripe-webhook', 'http.request.method': 'post', 'http.response.status_code': 200 }, ...overrides });
  const paymentFailed = {
    name: 'payment_failure',
    timeUnixNano: T0,
    attributes: new Map<string, AttributeValue>([
      ['payment.provider', 'stripe'],
      ['payment.failure_reason', 'card_declined'],
      ['order.id', 'ord_42'],
      ['payment.amount', 18.5],
    ]),
  };

  it('from a trusted server: a SERVER span with faas.name is an edge_function row, each payment_failure event a payment_failure row', () => {
    expect(classifySpan(edge())).toBe('edge_function');
    expect(classifySpan(edge({ kind: 1 }))).toBe('other'); // an INTERNAL span is not the function's request
    expect(spanToRows(edge({ events: [paymentFailed, paymentFailed] }), trusted)).toEqual([
      { createdAt: END, sessionId: null, eventType: 'edge_function', eventData: { function_name: 'stripe-webhook', execution_time_ms: 250, status: 'success', http_status: 200, method: 'POST' } },
      ...Array.from({ length: 2 }, () => ({
        createdAt: END,
        sessionId: null,
        eventType: 'payment_failure',
        eventData: { provider: 'stripe', reason: 'card_declined', order_id: 'ord_42', amount: 18.5 },
      })),
    ]);
    const failed = spanToRows(edge({ statusCode: 2, attributes: { 'faas.name': 'create-order', 'http.response.status_code': 503 } }), trusted) as NewEventRow[];
    expect(failed.map((r) => [r.eventType, r.eventData.status, r.eventData.http_status])).toEqual([['edge_function', 'error', 503]]); // its failure is its status, not an error row
  });

  it('from anyone else (a browser holding the public endpoint): rejected whole, never a row', () => {
    const forged = [
      edge(),
      span({ name: 'checkout', events: [paymentFailed] }),
      span({ name: 'page_view', attributes: { page: '/menu' }, events: [paymentFailed] }), // smuggled into a browser span
      span({ name: 'page_view', attributes: { page: '/ok' } }),
    ];
    const result = spansToRows(forged, options);
    expect(result.rows.map((r) => [r.eventType, r.eventData.page])).toEqual([['page_view', '/ok']]);
    expect(result.rejectedSpans).toBe(3);
    expect(result.rejections).toEqual([`3 spans: ${SERVER_ONLY_REJECTION}`]);
    expect(spansToRows(forged, { ...options, trusted: false }).rejectedSpans).toBe(3);
    expect(spansToRows(forged, trusted).rows.map((r) => r.eventType)).toEqual(['edge_function', 'payment_failure', 'page_view', 'payment_failure', 'page_view']);
  });

  it('keeps payment values bounded: a label-safe provider and reason, a numeric amount or null', () => {
    const odd = { ...paymentFailed, attributes: new Map<string, AttributeValue>([['payment.failure_reason', 'x'.repeat(10_000)], ['payment.amount', 'lots'], ['order.id', 42]]) };
    const [row] = spanToRows(span({ name: 'checkout', events: [odd] }), trusted) as NewEventRow[];
    expect(row!.eventData).toMatchObject({ provider: 'unknown', order_id: '42', amount: null });
    expect(String(row!.eventData.reason).length).toBeLessThanOrEqual(120);
  });
});

describe('row dates', () => {
  it('are the span end, never later than the receiver\'s clock (a clock running ahead is not the future)', () => {
    const ahead = BigInt(Date.now() + 3_600_000) * 1_000_000n;
    const before = Date.now();
    const [row] = spanToRows(span({ name: 'page_view', startTimeUnixNano: ahead, endTimeUnixNano: ahead }), options) as NewEventRow[];
    const dated = Date.parse(row!.createdAt);
    expect(dated).toBeGreaterThanOrEqual(before);
    expect(dated).toBeLessThanOrEqual(Date.now());
  });
});

describe('isoFromNanos', () => {
  it('keeps microseconds', () => {
    expect(isoFromNanos(T0 + 1_234_567n)).toBe('2025-01-15T12:00:00.001234Z');
    expect(isoFromNanos(1n)).toBe('1970-01-01T00:00:00.000000Z');
  });
});

describe('resource dimensions', () => {
  it('every row of a span carries its service, environment and release, label-safe; the older deployment.environment is read too', () => {
    const failing = span({
      kind: 2,
      statusCode: 2,
      attributes: { 'faas.name': 'stripe-webhook', 'http.response.status_code': 500 },
      events: [exception({ 'exception.type': 'TypeError', 'exception.message': 'boom' })],
      resource: { 'service.name': 'edge-functions', 'service.version': 'v1.5.0', 'deployment.environment.name': 'production', 'deployment.environment': 'ignored' },
    });
    const rows = spanToRows(failing, { ...options, trusted: true }) as NewEventRow[];
    expect(rows.map((r) => r.eventType)).toEqual(['edge_function', 'error']);
    for (const row of rows) expect(row.eventData).toMatchObject({ service: 'edge-functions', env: 'production', release: 'v1.5.0' });

    const old = span({ name: 'page_view', attributes: { page: '/menu/pizza' }, resource: { 'service.name': 'web', 'deployment.environment': 'staging', 'service.version': 'x'.repeat(500) } });
    const [row] = spanToRows(old, options) as NewEventRow[];
    expect(row!.eventData).toMatchObject({ service: 'web', env: 'staging' });
    expect((row!.eventData.release as string).length).toBeLessThanOrEqual(120);
    // a secret in a version is redacted like every label value
    const leaky = span({ name: 'page_view', resource: { 'service.version': 'build-for-bob@example.com' } });
    expect(JSON.stringify(spanToRows(leaky, options))).not.toContain('bob@example.com');
  });

  it('a span without a resource makes rows without them (the collector reads "unknown")', () => {
    const [row] = spanToRows(span({ name: 'page_view' }), options) as NewEventRow[];
    expect(row!.eventData).not.toHaveProperty('service');
    expect(row!.eventData).not.toHaveProperty('env');
    expect(row!.eventData).not.toHaveProperty('release');
  });
});

describe('what the browser names since issue 19', () => {
  it('keeps a web vital\'s attribution in the row, cut short and scrubbed; url.template names the page; names in any case', () => {
    const vital = span({
      name: 'web_vital',
      attributes: {
        'browser.web_vital.name': 'inp',
        'browser.web_vital.value': 240,
        'url.template': '/menu/:category',
        page: '/ignored',
        'browser.web_vital.attribution.element': `button#order-4242.add[data-email="bob@example.com"]${'x'.repeat(400)}`,
        'browser.web_vital.attribution.url': 'https://cdn.example/hero.webp?token=abc',
        'browser.web_vital.attribution.interaction_type': 'pointer',
      },
    });
    const [row] = spanToRows(vital, options) as NewEventRow[];
    expect(row!.eventData).toMatchObject({ metric: 'INP', value: 240, page: '/menu/:category' });
    const attribution = row!.eventData.attribution as Record<string, string>;
    expect(attribution.interaction_type).toBe('pointer');
    expect(attribution.url).toBe('https://cdn.example/hero.webp');
    expect(attribution.element!.length).toBeLessThanOrEqual(200);
    expect(attribution.element).not.toContain('bob@example.com');
  });

  it('an HTTP request still pending when its page closed is an aborted call, not a network failure', () => {
    const pending = span({ name: 'HTTP GET', kind: 3, attributes: { 'http.request.method': 'GET', 'url.full': 'https://api.example/api/menu', 'error.type': 'aborted_by_unload' } });
    const [row] = spanToRows(pending, options) as NewEventRow[];
    expect(row!.eventData).toMatchObject({ endpoint: '/api/menu', status: 0, aborted: true });
    // an answer wins over the marker; another error.type is a network failure as before
    const answered = span({ name: 'HTTP GET', kind: 3, attributes: { 'http.request.method': 'GET', 'url.full': 'https://api.example/api/menu', 'http.response.status_code': 200, 'error.type': 'aborted_by_unload' } });
    expect((spanToRows(answered, options) as NewEventRow[])[0]!.eventData).not.toHaveProperty('aborted');
    const failed = span({ name: 'HTTP GET', kind: 3, attributes: { 'http.request.method': 'GET', 'url.full': 'https://api.example/api/menu', 'error.type': 'TypeError' } });
    expect((spanToRows(failed, options) as NewEventRow[])[0]!.eventData).not.toHaveProperty('aborted');
  });
});

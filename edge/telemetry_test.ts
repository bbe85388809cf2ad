import { flush, recordPaymentFailure, stats, withTelemetry } from './mod.ts';
import { backoff, parseRetryAfter } from './exporter.ts';
import { newSpanId, newTraceId, parseTraceparent } from './otlp.ts';
import {
  assert,
  assertEquals,
  assertMatch,
  attr,
  attrs,
  captureWarnings,
  deferred,
  type Receiver,
  type ReceivedRequest,
  setup,
  startReceiver,
  TOKEN,
  within,
} from './test_helpers.ts';

type Respond = (index: number, req: ReceivedRequest) => Response | Promise<Response>;

/** Runs `fn` with a fake receiver and captured warnings; always flushes and closes after. */
async function withReceiver(
  respond: Respond | undefined,
  fn: (receiver: Receiver, warnings: string[]) => Promise<void>,
): Promise<void> {
  const receiver = await startReceiver(respond);
  const warnings = captureWarnings();
  try {
    await fn(receiver, warnings.messages);
  } finally {
    await flush();
    warnings.restore();
    await receiver.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

Deno.test('one SERVER span per request, with the semantic-convention attributes and nothing from the request', async () => {
  await withReceiver(undefined, async (receiver, warnings) => {
    setup({ endpoint: receiver.url, token: TOKEN });
    let handlerMs = 0;
    const handler = withTelemetry(async (req) => {
      const start = performance.now();
      await req.text();
      await sleep(30);
      handlerMs = performance.now() - start;
      return new Response('created', { status: 201 });
    }, { name: 'create-order' });

    const res = await handler(
      new Request('https://fn.example/create-order?email=secret%40example.com', {
        method: 'POST',
        headers: { authorization: 'Bearer user-jwt-abc', cookie: 'session=s3cr3t' },
        body: '{"card":"4242424242424242"}',
      }),
    );
    assertEquals(res.status, 201);
    assertEquals(await res.text(), 'created');
    await flush();

    assertEquals(receiver.requests.length, 1);
    const req = receiver.requests[0]!;
    assertEquals(req.method, 'POST');
    assertEquals(req.path, '/v1/traces');
    assertEquals(req.headers.get('content-type'), 'application/json');
    assertEquals(req.headers.get('authorization'), `Bearer ${TOKEN}`);
    const scope = req.body.resourceSpans[0]!.scopeSpans[0]!.scope;
    assertEquals(scope.name, 'connect-observability-edge');
    assertMatch(scope.version, /^\d+\.\d+\.\d+$/);

    const spans = receiver.spans();
    assertEquals(spans.length, 1);
    const span = spans[0]!;
    assertEquals(span.name, 'create-order');
    assertEquals(span.kind, 2);
    assertEquals(attrs(span.attributes), {
      'faas.name': { stringValue: 'create-order' },
      'faas.trigger': { stringValue: 'http' },
      'http.request.method': { stringValue: 'POST' },
      'http.response.status_code': { intValue: '201' },
    });
    assertEquals(span.status, { code: 0 });
    assertEquals(span.events, []);
    assertMatch(span.traceId, HEX32);
    assertMatch(span.spanId, HEX16);
    assert(!/^0+$/.test(span.traceId) && !/^0+$/.test(span.spanId), 'ids are not all zeros');
    assertEquals(span.parentSpanId, undefined);
    assertMatch(span.startTimeUnixNano, /^\d{19}$/);
    assertMatch(span.endTimeUnixNano, /^\d{19}$/);
    const durationMs = Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6;
    // The span covers the handler (rounding to whole nanoseconds aside).
    assert(durationMs >= handlerMs - 0.01, `span ${durationMs} ms shorter than the handler's ${handlerMs} ms`);
    const startMs = Number(BigInt(span.startTimeUnixNano) / 1_000_000n);
    assert(Math.abs(startMs - Date.now()) < 10 * 60_000, 'start time is unix time');
    // Nothing from the URL, headers or body.
    for (const secret of ['secret', 'user-jwt', 's3cr3t', '4242', 'fn.example', 'create-order?']) {
      assert(!req.text.includes(secret), `the export contains ${secret}`);
    }
    assertEquals(warnings, []);
  });
});

Deno.test('a valid traceparent continues the trace; an invalid one starts a new trace', async () => {
  await withReceiver(undefined, async (receiver) => {
    setup({ endpoint: receiver.url, token: TOKEN });
    const handler = withTelemetry(() => new Response('ok'), { name: 'f' });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    await handler(new Request('http://f/', { headers: { traceparent: `00-${traceId}-${parent}-01` } }));
    const invalid = [
      `00-${'0'.repeat(32)}-${parent}-01`,
      `00-${traceId}-${'0'.repeat(16)}-01`,
      `00-${traceId.toUpperCase()}-${parent}-01`,
      `ff-${traceId}-${parent}-01`,
      `00-${traceId}-${parent}-01-extra`,
      'garbage',
    ];
    for (const traceparent of invalid) await handler(new Request('http://f/', { headers: { traceparent } }));
    await flush();

    const [first, ...rest] = receiver.spans();
    assertEquals(first!.traceId, traceId);
    assertEquals(first!.parentSpanId, parent);
    assert(first!.spanId !== parent, 'a new span id');
    assertEquals(rest.length, invalid.length);
    for (const span of rest) {
      assert(span.traceId !== traceId, 'a new trace id');
      assertMatch(span.traceId, HEX32);
      assertEquals(span.parentSpanId, undefined);
    }
  });
  // A later version may add fields.
  assertEquals(parseTraceparent(`01-${'a'.repeat(32)}-${'b'.repeat(16)}-01-more`), { traceId: 'a'.repeat(32), parentSpanId: 'b'.repeat(16) });
});

Deno.test('recordPaymentFailure adds a payment_failure event to the current request span', async () => {
  await withReceiver(undefined, async (receiver, warnings) => {
    setup({ endpoint: receiver.url, token: TOKEN });
    const handler = withTelemetry(async () => {
      await sleep(1); // across an await: the span is still found
      recordPaymentFailure({ provider: 'stripe', reason: 'card_declined', orderId: 'ord_123', amount: 12 });
      // Quietly validated: nothing thrown, missing values become "unknown" or are left out.
      recordPaymentFailure({} as never);
      recordPaymentFailure(null as never);
      recordPaymentFailure({ provider: 5, reason: ' ', orderId: 77, amount: Number.NaN } as never);
      return new Response('payment failed', { status: 402 });
    }, { name: 'pay' });
    // Concurrent requests keep their own spans.
    const other = withTelemetry(async () => {
      await sleep(2);
      return new Response('ok');
    }, { name: 'other' });
    const [res] = await Promise.all([handler(new Request('http://f/', { method: 'POST' })), other(new Request('http://f/'))]);
    assertEquals(res.status, 402);
    await flush();

    const spans = receiver.spans();
    assertEquals(spans.map((s) => s.name).sort(), ['other', 'pay']);
    assertEquals(spans.find((s) => s.name === 'other')!.events, []);
    const span = spans.find((s) => s.name === 'pay')!;
    assertEquals(span.events.map((e) => e.name), ['payment_failure', 'payment_failure', 'payment_failure', 'payment_failure']);
    assertEquals(attrs(span.events[0]!.attributes), {
      'payment.provider': { stringValue: 'stripe' },
      'payment.failure_reason': { stringValue: 'card_declined' },
      'order.id': { stringValue: 'ord_123' },
      'payment.amount': { doubleValue: 12 },
    });
    const unknown = { 'payment.provider': { stringValue: 'unknown' }, 'payment.failure_reason': { stringValue: 'unknown' } };
    assertEquals(attrs(span.events[1]!.attributes), unknown);
    assertEquals(attrs(span.events[2]!.attributes), unknown);
    assertEquals(attrs(span.events[3]!.attributes), { ...unknown, 'order.id': { stringValue: '77' } });
    for (const e of span.events) {
      assert(BigInt(e.timeUnixNano) >= BigInt(span.startTimeUnixNano) && BigInt(e.timeUnixNano) <= BigInt(span.endTimeUnixNano), 'event within span');
    }
    assertEquals(warnings, []);
  });
});

Deno.test('recordPaymentFailure outside a request (or after its response) sends a span of its own', async () => {
  await withReceiver(undefined, async (receiver) => {
    setup({ endpoint: receiver.url, token: TOKEN });
    recordPaymentFailure({ provider: 'paypal', reason: 'expired', orderId: 'ord_9', amount: 5.5 });
    const late = deferred();
    const handler = withTelemetry(() => {
      setTimeout(() => {
        recordPaymentFailure({ provider: 'stripe', reason: 'late' });
        late.resolve();
      }, 0);
      return new Response('ok');
    }, { name: 'bg' });
    await handler(new Request('http://f/'));
    await late.promise;
    await flush();

    const spans = receiver.spans();
    assertEquals(spans.length, 3);
    const own = spans.find((s) => s.name === 'payment_failure' && s.parentSpanId === undefined)!;
    assertEquals(own.kind, 1);
    assertMatch(own.traceId, HEX32);
    assertEquals(own.events.length, 1);
    assertEquals(attrs(own.events[0]!.attributes), {
      'payment.provider': { stringValue: 'paypal' },
      'payment.failure_reason': { stringValue: 'expired' },
      'order.id': { stringValue: 'ord_9' },
      'payment.amount': { doubleValue: 5.5 },
    });
    const request = spans.find((s) => s.name === 'bg')!;
    assertEquals(request.events, []);
    const child = spans.find((s) => s.name === 'payment_failure' && s.parentSpanId !== undefined)!;
    assertEquals(child.kind, 1);
    assertEquals(child.traceId, request.traceId);
    assertEquals(child.parentSpanId, request.spanId);
    assertEquals(attr(child.events[0]!.attributes, 'payment.failure_reason'), { stringValue: 'late' });
  });
});

Deno.test('more than 10 payment failures in one request: the rest go in child spans', async () => {
  await withReceiver(undefined, async (receiver) => {
    setup({ endpoint: receiver.url, token: TOKEN });
    const handler = withTelemetry(() => {
      for (let i = 0; i < 12; i++) recordPaymentFailure({ provider: 'stripe', reason: `r${i}` });
      return new Response('ok');
    }, { name: 'batch' });
    await handler(new Request('http://f/'));
    await flush();
    const spans = receiver.spans();
    const request = spans.find((s) => s.name === 'batch')!;
    assertEquals(request.events.length, 10);
    const children = spans.filter((s) => s.name === 'payment_failure');
    assertEquals(children.map((c) => attr(c.events[0]!.attributes, 'payment.failure_reason')), [{ stringValue: 'r10' }, { stringValue: 'r11' }]);
    for (const c of children) assertEquals([c.traceId, c.parentSpanId], [request.traceId, request.spanId]);
  });
});

Deno.test('resource attributes come from the environment, and configure() overrides them', async () => {
  await withReceiver(undefined, async (receiver) => {
    const env = {
      // The base endpoint (a trailing slash is fine): /v1/traces is appended.
      OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.origin}/`,
      OTLP_SERVER_TOKEN: 'env-token',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes, service.version=1.2.3,deployment.environment.name=staging%2Ceu,team=pay%20ops,broken',
      SB_REGION: 'eu-west-1',
    };
    const handler = withTelemetry(() => new Response('ok'), { name: 'f' });
    setup({}, env);
    await handler(new Request('http://f/'));
    await flush();
    setup({}, { ...env, OTEL_SERVICE_NAME: 'from-service-name' });
    await handler(new Request('http://f/'));
    await flush();
    setup({ serviceName: 'configured', serviceVersion: '9.9.9', environment: 'production' }, env);
    await handler(new Request('http://f/'));
    await flush();

    assertEquals(receiver.requests.length, 3);
    for (const r of receiver.requests) {
      assertEquals(r.path, '/v1/traces');
      assertEquals(r.headers.get('authorization'), 'Bearer env-token');
    }
    const resources = receiver.requests.map((r) => attrs(r.body.resourceSpans[0]!.resource.attributes));
    assertEquals(resources[0], {
      'service.name': { stringValue: 'from-attributes' },
      'service.version': { stringValue: '1.2.3' },
      'deployment.environment.name': { stringValue: 'staging,eu' },
      team: { stringValue: 'pay ops' },
      'cloud.region': { stringValue: 'eu-west-1' },
    });
    assertEquals(resources[1]!['service.name'], { stringValue: 'from-service-name' });
    assertEquals(resources[2]!['service.name'], { stringValue: 'configured' });
    assertEquals(resources[2]!['service.version'], { stringValue: '9.9.9' });
    assertEquals(resources[2]!['deployment.environment.name'], { stringValue: 'production' });
  });
  await withReceiver(undefined, async (receiver) => {
    // The traces endpoint wins over the base; service.name defaults to edge-functions.
    setup({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.origin}/custom/traces`, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTLP_SERVER_TOKEN: 't' });
    recordPaymentFailure({ provider: 'stripe', reason: 'x' });
    await flush();
    assertEquals(receiver.requests.map((r) => r.path), ['/custom/traces']);
    assertEquals(attrs(receiver.requests[0]!.body.resourceSpans[0]!.resource.attributes), { 'service.name': { stringValue: 'edge-functions' } });
  });
});

Deno.test('a throwing handler: its own error rethrown, an ERROR span with an exception event and status 500', async () => {
  await withReceiver(undefined, async (receiver) => {
    setup({ endpoint: receiver.url, token: TOKEN });
    const thrown = new TypeError('cannot read the order');
    const asyncHandler = withTelemetry(async () => {
      await sleep(1);
      throw thrown;
    }, { name: 'async-throw' });
    const syncHandler = withTelemetry((): Response => {
      throw 'a string';
    }, { name: 'sync-throw' });
    const failing = withTelemetry(() => new Response('down', { status: 503 }), { name: 'returns-503' });

    let caught: unknown;
    await asyncHandler(new Request('http://f/', { method: 'PUT' })).catch((err) => (caught = err));
    assert(caught === thrown, 'the original error is rethrown');
    caught = undefined;
    await syncHandler(new Request('http://f/')).catch((err) => (caught = err));
    assertEquals(caught, 'a string');
    assertEquals((await failing(new Request('http://f/'))).status, 503);
    await flush();

    const spans = receiver.spans();
    const a = spans.find((s) => s.name === 'async-throw')!;
    assertEquals(a.status, { code: 2, message: 'cannot read the order' });
    assertEquals(attr(a.attributes, 'http.response.status_code'), { intValue: '500' });
    assertEquals(attr(a.attributes, 'http.request.method'), { stringValue: 'PUT' });
    assertEquals(a.events.length, 1);
    assertEquals(a.events[0]!.name, 'exception');
    assertEquals(attr(a.events[0]!.attributes, 'exception.type'), { stringValue: 'TypeError' });
    assertEquals(attr(a.events[0]!.attributes, 'exception.message'), { stringValue: 'cannot read the order' });
    const s = spans.find((s) => s.name === 'sync-throw')!;
    assertEquals(s.status.code, 2);
    assertEquals(attr(s.events[0]!.attributes, 'exception.type'), { stringValue: 'string' });
    assertEquals(attr(s.events[0]!.attributes, 'exception.message'), { stringValue: 'a string' });
    // A returned 5xx is an error status too, without an exception event.
    const f = spans.find((s) => s.name === 'returns-503')!;
    assertEquals(f.status, { code: 2 });
    assertEquals(f.events, []);
    assertEquals(attr(f.attributes, 'http.response.status_code'), { intValue: '503' });
  });
});

Deno.test('not configured: one warning naming what is missing, no request, the function works', async () => {
  await withReceiver(undefined, async (receiver, warnings) => {
    // The endpoint is there, the token is not.
    setup({ endpoint: receiver.url });
    const handler = withTelemetry(() => {
      recordPaymentFailure({ provider: 'stripe', reason: 'x' });
      return new Response('ok');
    }, { name: 'f' });
    assertEquals((await handler(new Request('http://f/'))).status, 200);
    assertEquals(await (await handler(new Request('http://f/'))).text(), 'ok');
    recordPaymentFailure({ provider: 'stripe', reason: 'y' });
    await flush();
    await sleep(50);
    assertEquals(receiver.requests.length, 0);
    assertEquals(warnings.length, 1);
    assert(warnings[0]!.includes('OTLP_SERVER_TOKEN'), warnings[0]);
    assert(!warnings[0]!.includes('OTEL_EXPORTER_OTLP_ENDPOINT'), warnings[0]);
    assertEquals(stats().queued, 0);

    // Neither: both named, once.
    warnings.length = 0;
    setup({});
    await handler(new Request('http://f/'));
    await handler(new Request('http://f/'));
    assertEquals(warnings.length, 1);
    assert(warnings[0]!.includes('OTEL_EXPORTER_OTLP_ENDPOINT') && warnings[0]!.includes('OTLP_SERVER_TOKEN'), warnings[0]);

    // An endpoint that is not a URL: warned without printing it.
    warnings.length = 0;
    setup({ endpoint: 'ftp://user:hunter2@host', token: TOKEN });
    await handler(new Request('http://f/'));
    assertEquals(warnings.length, 1);
    assert(!warnings[0]!.includes('hunter2') && !warnings[0]!.includes(TOKEN), warnings[0]);
    await flush();
    assertEquals(receiver.requests.length, 0);
  });
});

Deno.test('503 with Retry-After, then 429, 502, 504: retried with the same body until accepted', async () => {
  const statuses = [503, 429, 502, 504];
  await withReceiver((i) => {
    if (i === 0) return new Response('busy', { status: 503, headers: { 'Retry-After': '1' } });
    if (i < statuses.length) return new Response('busy', { status: statuses[i] });
    return Response.json({});
  }, async (receiver, warnings) => {
    // Backoff without Retry-After is about a millisecond: the first wait is the Retry-After's second.
    setup({ endpoint: receiver.url, token: TOKEN, initialRetryDelayMs: 1 });
    const before = stats();
    recordPaymentFailure({ provider: 'stripe', reason: 'x' });
    await flush();
    assertEquals(receiver.requests.length, 5);
    assert(receiver.requests.every((r) => r.text === receiver.requests[0]!.text), 'the same body each time');
    const waited = receiver.requests[1]!.at - receiver.requests[0]!.at;
    assert(waited >= 900, `Retry-After: 1 honoured (waited ${waited} ms)`);
    assertEquals(stats().exported - before.exported, 1);
    assertEquals(stats().dropped - before.dropped, 0);
    assertEquals(warnings, []);
  });
});

Deno.test('given up after maxAttempts (network errors too), with a warning; nothing thrown', async () => {
  await withReceiver(() => new Response('down', { status: 503 }), async (receiver, warnings) => {
    setup({ endpoint: receiver.url, token: TOKEN, initialRetryDelayMs: 1, maxAttempts: 3 });
    const before = stats();
    recordPaymentFailure({ provider: 'stripe', reason: 'x' });
    await flush();
    assertEquals(receiver.requests.length, 3);
    assertEquals(stats().dropped - before.dropped, 1);
    assertEquals(warnings.length, 1);
    assert(warnings[0]!.includes('after 3 attempts') && warnings[0]!.includes('HTTP 503'), warnings[0]);
  });
  // Nothing listens on this port any more: connection refused.
  const closed = await startReceiver();
  await closed.close();
  const warnings = captureWarnings();
  try {
    setup({ endpoint: closed.url, token: TOKEN, initialRetryDelayMs: 1, maxAttempts: 2 });
    const handler = withTelemetry(() => new Response('ok'), { name: 'f' });
    assertEquals((await handler(new Request('http://f/'))).status, 200);
    await flush();
    assertEquals(warnings.messages.length, 1);
    assert(warnings.messages[0]!.includes('after 2 attempts'), warnings.messages[0]);
  } finally {
    warnings.restore();
  }
});

Deno.test('each export request times out, and is retried', async () => {
  const release = deferred();
  await withReceiver(async (i) => {
    if (i < 2) await release.promise;
    return Response.json({});
  }, async (receiver, warnings) => {
    try {
      setup({ endpoint: receiver.url, token: TOKEN, timeoutMs: 100, initialRetryDelayMs: 1, maxAttempts: 2 });
      recordPaymentFailure({ provider: 'stripe', reason: 'x' });
      await within(flush(), 5000, 'flush');
      assertEquals(receiver.requests.length, 2);
      assertEquals(warnings.length, 1);
      assert(warnings[0]!.includes('timeout after 100 ms'), warnings[0]);
    } finally {
      release.resolve();
    }
  });
});

Deno.test('no retry on 400: the batch is dropped, one warning per status, without the token', async () => {
  await withReceiver(() => Response.json({ code: 3, message: 'invalid span' }, { status: 400 }), async (receiver, warnings) => {
    setup({ endpoint: receiver.url, token: TOKEN, initialRetryDelayMs: 1 });
    const before = stats();
    recordPaymentFailure({ provider: 'stripe', reason: 'x' });
    await flush();
    assertEquals(receiver.requests.length, 1);
    recordPaymentFailure({ provider: 'stripe', reason: 'y' });
    await flush();
    assertEquals(receiver.requests.length, 2);
    assertEquals(stats().dropped - before.dropped, 2);
    assertEquals(warnings.length, 1);
    assert(warnings[0]!.includes('HTTP 400') && warnings[0]!.includes('invalid span'), warnings[0]);
    assert(!warnings[0]!.includes(TOKEN), 'the token is never printed');
  });
  await withReceiver(() => new Response('nope', { status: 401 }), async (receiver, warnings) => {
    setup({ endpoint: receiver.url, token: TOKEN, initialRetryDelayMs: 1 });
    recordPaymentFailure({ provider: 'stripe', reason: 'x' });
    await flush();
    assertEquals(receiver.requests.length, 1);
    assertEquals(warnings.length, 1);
    assert(warnings[0]!.includes('HTTP 401'), warnings[0]);
  });
});

Deno.test('a 200 with partialSuccess.rejectedSpans > 0: a warning with the message, once per message', async () => {
  const messages = ['rejected server-only telemetry', 'rejected server-only telemetry', 'rejected end time before start time'];
  await withReceiver(
    (i) => Response.json({ partialSuccess: { rejectedSpans: i === 0 ? '1' : 1, errorMessage: messages[i] } }),
    async (receiver, warnings) => {
      setup({ endpoint: receiver.url, token: TOKEN });
      for (let i = 0; i < 3; i++) {
        recordPaymentFailure({ provider: 'stripe', reason: 'x' });
        await flush();
      }
      assertEquals(receiver.requests.length, 3);
      assertEquals(warnings.length, 2);
      assert(warnings[0]!.includes('rejected 1 spans') && warnings[0]!.includes('server-only telemetry'), warnings[0]);
      assert(warnings[1]!.includes('end time before start time'), warnings[1]);
    },
  );
  // rejectedSpans 0 (or no partialSuccess) is a plain success.
  await withReceiver(() => Response.json({ partialSuccess: { rejectedSpans: 0, errorMessage: '' } }), async (_receiver, warnings) => {
    setup({ endpoint: _receiver.url, token: TOKEN });
    recordPaymentFailure({ provider: 'stripe', reason: 'x' });
    await flush();
    assertEquals(warnings, []);
  });
});

Deno.test('the queue is bounded: the oldest spans without a payment failure are dropped first', async () => {
  await withReceiver(undefined, async (receiver, warnings) => {
    setup({ endpoint: receiver.url, token: TOKEN, maxQueueSize: 4 });
    const before = stats();
    // All within one tick (no timer runs in between): the queue fills before the first export.
    recordPaymentFailure({ provider: 'stripe', reason: 'p1' });
    recordPaymentFailure({ provider: 'stripe', reason: 'p2' });
    for (let i = 1; i <= 6; i++) await withTelemetry(() => new Response('ok'), { name: `r${i}` })(new Request('http://f/'));
    recordPaymentFailure({ provider: 'stripe', reason: 'p3' });
    assertEquals(stats().queued, 4);
    await flush();

    const names = receiver.spans().map((s) => s.name === 'payment_failure' ? String((attr(s.events[0]!.attributes, 'payment.failure_reason') as { stringValue: string }).stringValue) : s.name);
    assertEquals(names, ['p1', 'p2', 'r6', 'p3']);
    assertEquals(stats().dropped - before.dropped, 5);
    assertEquals(warnings.length, 1);
    assert(warnings[0]!.includes('queue is full'), warnings[0]);

    // Only payment failures: the oldest goes.
    receiver.requests.length = 0;
    for (let i = 1; i <= 6; i++) recordPaymentFailure({ provider: 'stripe', reason: `q${i}` });
    await flush();
    assertEquals(receiver.spans().length, 4);
    assertEquals(attr(receiver.spans()[0]!.events[0]!.attributes, 'payment.failure_reason'), { stringValue: 'q3' });
  });
});

Deno.test('spans are batched: at most 512 per export request', async () => {
  await withReceiver(undefined, async (receiver) => {
    setup({ endpoint: receiver.url, token: TOKEN });
    for (let i = 0; i < 600; i++) recordPaymentFailure({ provider: 'stripe', reason: 'x' });
    await flush();
    assertEquals(receiver.requests.map((r) => r.body.resourceSpans[0]!.scopeSpans[0]!.spans.length), [512, 88]);
  });
});

Deno.test('the response is returned while the receiver still holds the export request open', async () => {
  const log: string[] = [];
  const release = deferred();
  await withReceiver(async () => {
    log.push('export received');
    await release.promise;
    log.push('export answered');
    return Response.json({});
  }, async (receiver) => {
    // The export's own timeout is far beyond the guards.
    setup({ endpoint: receiver.url, token: TOKEN, timeoutMs: 60_000 });
    const fn = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, withTelemetry(() => new Response('hello'), { name: 'f' }));
    try {
      // Through a real server: the client has the whole response before the export is answered...
      // (The guards turn a response waiting for the export into a failure instead of a hang.)
      const res = await within(fetch(`http://127.0.0.1:${fn.addr.port}/`), 5000, 'response 1');
      assertEquals(await res.text(), 'hello');
      log.push('response');
      // ...and, while that export request is held open, a second response and a direct call.
      await within(receiver.arrived(1), 5000, 'the export request');
      const res2 = await within(fetch(`http://127.0.0.1:${fn.addr.port}/`), 5000, 'response 2');
      assertEquals(await res2.text(), 'hello');
      log.push('response 2');
      const res3 = await within(withTelemetry(() => new Response('direct'), { name: 'g' })(new Request('http://f/')), 5000, 'response 3');
      assertEquals(await res3.text(), 'direct');
      log.push('response 3');
      assert(!log.includes('export answered'), log.join(', '));
      release.resolve();
      await flush();
      const answered = log.indexOf('export answered');
      assert(answered > log.indexOf('response') && answered > log.indexOf('response 2') && answered > log.indexOf('response 3'), log.join(', '));
      assertEquals(receiver.spans().length, 3);
    } finally {
      release.resolve();
      await fn.shutdown();
    }
  });
});

Deno.test('EdgeRuntime.waitUntil is given the export, which it keeps alive', async () => {
  const g = globalThis as { EdgeRuntime?: unknown };
  const kept: Promise<unknown>[] = [];
  g.EdgeRuntime = { waitUntil: (p: Promise<unknown>) => void kept.push(p) };
  try {
    await withReceiver(undefined, async (receiver) => {
      setup({ endpoint: receiver.url, token: TOKEN });
      const handler = withTelemetry(() => new Response('ok'), { name: 'f' });
      await handler(new Request('http://f/'));
      await handler(new Request('http://f/'));
      assertEquals(kept.length, 1, 'one drain for the spans of the same tick');
      assertEquals(receiver.requests.length, 0);
      await kept[0]; // not flush(): the promise given to waitUntil covers the export
      assertEquals(receiver.spans().length, 2);
      recordPaymentFailure({ provider: 'stripe', reason: 'outside' });
      assertEquals(kept.length, 2);
      await kept[1];
      assertEquals(receiver.spans().length, 3);
    });
  } finally {
    delete g.EdgeRuntime;
  }
});

Deno.test('withTelemetry never throws its own errors', async () => {
  setup({ endpoint: 'http://127.0.0.1:9/v1/traces', token: TOKEN, maxAttempts: 1 });
  const warnings = captureWarnings();
  try {
    const handler = withTelemetry(() => new Response('ok'), undefined as never);
    assertEquals(await (await handler(new Request('http://f/'))).text(), 'ok');
    const weird = withTelemetry(() => ({ status: 'not a number' }) as unknown as Response, { name: 'weird' });
    await weird(new Request('http://f/'));
    await flush();
  } finally {
    warnings.restore();
  }
});

Deno.test('Retry-After parsing and backoff', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assertEquals(parseRetryAfter('3', 30_000, now), 3000);
  assertEquals(parseRetryAfter(' 0 ', 30_000, now), 0);
  assertEquals(parseRetryAfter('120', 30_000, now), 30_000);
  assertEquals(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', 30_000, now), 5000);
  assertEquals(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', 30_000, now), 0);
  assertEquals(parseRetryAfter('soon', 30_000, now), undefined);
  assertEquals(parseRetryAfter('-1', 30_000, now), undefined);
  assertEquals(parseRetryAfter(null, 30_000, now), undefined);
  for (let attempt = 1; attempt <= 8; attempt++) {
    const ceiling = Math.min(10_000, 1000 * 2 ** (attempt - 1));
    const d = backoff(attempt, { initialRetryDelayMs: 1000, maxRetryDelayMs: 10_000 });
    assert(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d}`);
  }
});

Deno.test('ids are random lowercase hex and never all zeros', () => {
  const original = crypto.getRandomValues;
  let calls = 0;
  // The first draw of each id is all zeros (as a broken or unlucky source might give): drawn again.
  crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
    calls++;
    if (calls % 2 === 1) return array;
    return original.call(crypto, array as Uint8Array) as unknown as T;
  }) as typeof crypto.getRandomValues;
  try {
    const traceId = newTraceId();
    const spanId = newSpanId();
    assertMatch(traceId, HEX32);
    assertMatch(spanId, HEX16);
    assert(!/^0+$/.test(traceId) && !/^0+$/.test(spanId), `${traceId} ${spanId}`);
    assertEquals(calls, 4);
  } finally {
    crypto.getRandomValues = original;
  }
  assert(newTraceId() !== newTraceId(), 'random');
});

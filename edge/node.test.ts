// The library on Node 20 (vitest): a node:http fake receiver, a wrapped handler called with a
// plain Request, flush, and the span as received. The Deno tests (*_test.ts) cover the rest.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configure, flush, recordPaymentFailure, withTelemetry } from './mod.ts';

interface Received {
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: {
    resourceSpans: {
      resource: { attributes: { key: string; value: unknown }[] };
      scopeSpans: { scope: { name: string }; spans: Record<string, unknown>[] }[];
    }[];
  };
}

const received: Received[] = [];
let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await flush();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const ENV = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTLP_SERVER_TOKEN', 'OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES', 'SB_REGION'];

describe('edge telemetry on Node', () => {
  it('sends the request span, with its payment_failure event, configured from process.env', async () => {
    const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
    try {
      for (const k of ENV) delete process.env[k];
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = origin;
      process.env.OTLP_SERVER_TOKEN = 'node-token';
      process.env.OTEL_RESOURCE_ATTRIBUTES = 'service.version=2.0.0';
      configure();

      const handler = withTelemetry(async (req) => {
        await new Promise((r) => setTimeout(r, 5));
        recordPaymentFailure({ provider: 'stripe', reason: 'card_declined', orderId: 'ord_7', amount: 19.99 });
        return new Response(await req.text(), { status: 202 });
      }, { name: 'node-fn' });
      const res = await handler(new Request('http://localhost/node-fn', { method: 'POST', body: 'hi' }));
      expect(res.status).toBe(202);
      expect(await res.text()).toBe('hi');
      expect(received).toHaveLength(0); // sent in the background, after the response
      await flush();
    } finally {
      for (const k of ENV) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }

    expect(received).toHaveLength(1);
    const request = received[0]!;
    expect(request.url).toBe('/v1/traces');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers.authorization).toBe('Bearer node-token');
    const resource = request.body.resourceSpans[0]!.resource.attributes;
    expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'edge-functions' } });
    expect(resource).toContainEqual({ key: 'service.version', value: { stringValue: '2.0.0' } });
    const scopeSpans = request.body.resourceSpans[0]!.scopeSpans[0]!;
    expect(scopeSpans.scope.name).toBe('connect-observability-edge');
    expect(scopeSpans.spans).toHaveLength(1);
    const span = scopeSpans.spans[0]!;
    expect(span).toMatchObject({
      name: 'node-fn',
      kind: 2,
      status: { code: 0 },
      attributes: [
        { key: 'faas.name', value: { stringValue: 'node-fn' } },
        { key: 'faas.trigger', value: { stringValue: 'http' } },
        { key: 'http.request.method', value: { stringValue: 'POST' } },
        { key: 'http.response.status_code', value: { intValue: '202' } },
      ],
      events: [
        {
          name: 'payment_failure',
          attributes: [
            { key: 'payment.provider', value: { stringValue: 'stripe' } },
            { key: 'payment.failure_reason', value: { stringValue: 'card_declined' } },
            { key: 'order.id', value: { stringValue: 'ord_7' } },
            { key: 'payment.amount', value: { doubleValue: 19.99 } },
          ],
        },
      ],
    });
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(BigInt(span.endTimeUnixNano as string) > BigInt(span.startTimeUnixNano as string)).toBe(true);
  });
});

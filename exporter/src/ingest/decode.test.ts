import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, SpanKind as ApiSpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { OTLPTraceExporter as OTLPHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPHttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { jsonRequest, msToNanos, T0_MS, toProtobuf } from '../../test/support/otlp.js';
import {
  decodeJsonRequest,
  decodeProtobufRequest,
  encodeProtobufResponse,
  encodeProtobufStatus,
  MalformedRequestError,
  type ReceivedSpan,
} from './decode.js';

const srcRoot = fileURLToPath(new URL('..', import.meta.url));
const testRoot = fileURLToPath(new URL('../../test', import.meta.url));
const benchRoot = fileURLToPath(new URL('../../bench', import.meta.url));

const limits = { maxSpans: 100, maxAttributeLength: 64 };
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

const request = {
  resourceSpans: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'web' } },
          { key: 'session.id', value: { stringValue: 'sess-1' } },
        ],
        droppedAttributesCount: 0,
        somethingNew: { nested: true },
      },
      scopeSpans: [
        {
          scope: { name: '@opentelemetry/instrumentation-fetch', version: '0.1.0' },
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'eee19b7ec3c1b174',
              name: 'HTTP GET',
              kind: 3,
              startTimeUnixNano: msToNanos(T0_MS),
              endTimeUnixNano: Number(msToNanos(T0_MS + 250)),
              attributes: [
                { key: 'http.request.method', value: { stringValue: 'GET' } },
                { key: 'http.response.status_code', value: { intValue: '200' } },
                { key: 'ratio', value: { doubleValue: 0.5 } },
                { key: 'cached', value: { boolValue: false } },
                { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 2 }, { arrayValue: { values: [] } }] } } },
                { key: 'blob', value: { bytesValue: 'AAEC' } },
                { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
                { key: 'long', value: { stringValue: 'x'.repeat(100) } },
                { key: 'empty', value: {} },
              ],
              events: [{ timeUnixNano: msToNanos(T0_MS + 10), name: 'exception', attributes: [{ key: 'exception.type', value: { stringValue: 'TypeError' } }] }],
              status: { code: 'STATUS_CODE_ERROR', message: 'boom' },
              flags: 1,
              unknownField: 'ignored',
            },
          ],
        },
      ],
    },
  ],
};

const expected: ReceivedSpan = {
  traceId: '5b8efff798038103d269b633813fc60c',
  spanId: 'eee19b7ec3c1b174',
  name: 'HTTP GET',
  kind: 3,
  startTimeUnixNano: BigInt(msToNanos(T0_MS)),
  // sent as a JSON number, so only as precise as a double
  endTimeUnixNano: BigInt(Number(msToNanos(T0_MS + 250))),
  attributes: new Map<string, unknown>([
    ['http.request.method', 'GET'],
    ['http.response.status_code', 200],
    ['ratio', 0.5],
    ['cached', false],
    ['tags', ['a', 2, null]],
    ['blob', null],
    ['map', null],
    ['long', 'x'.repeat(64)],
    ['empty', null],
  ]) as ReceivedSpan['attributes'],
  events: [{ name: 'exception', timeUnixNano: BigInt(msToNanos(T0_MS + 10)), attributes: new Map([['exception.type', 'TypeError']]) }],
  statusCode: 2,
  statusMessage: 'boom',
  scopeName: '@opentelemetry/instrumentation-fetch',
  resource: new Map([
    ['service.name', 'web'],
    ['session.id', 'sess-1'],
  ]),
};

describe('decoding OTLP/JSON', () => {
  it('reads hex ids, 64-bit numbers as strings or numbers, enum names, and ignores unknown fields', () => {
    expect(decodeJsonRequest(json(request), limits)).toEqual([expected]);
  });

  it('keeps invalid ids (absent, all zeros, another length, not hex, base64) and times past 64 bits as undefined, for the mapper to reject the span', () => {
    const one = (fields: object) => decodeJsonRequest(json({ resourceSpans: [{ scopeSpans: [{ spans: [fields] }] }] }), limits)[0]!;
    expect(one({})).toMatchObject({ traceId: undefined, spanId: undefined });
    expect(one({ traceId: '0'.repeat(32), spanId: '0'.repeat(16) })).toMatchObject({ traceId: undefined, spanId: undefined });
    expect(one({ traceId: 'ab'.repeat(15), spanId: 'zz'.repeat(8) })).toMatchObject({ traceId: undefined, spanId: undefined });
    expect(one({ traceId: Buffer.alloc(16, 1).toString('base64'), spanId: 7 })).toMatchObject({ traceId: undefined, spanId: undefined });
    expect(one({ traceId: 'AB'.repeat(16), spanId: 'Cd'.repeat(8) })).toMatchObject({ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8) });
    // 2^64 and the 20-digit value once stored as the year 5138: not a fixed64
    expect(one({ startTimeUnixNano: (2n ** 64n).toString(), endTimeUnixNano: '99999999999999999999' })).toMatchObject({ startTimeUnixNano: undefined, endTimeUnixNano: undefined });
    expect(one({ startTimeUnixNano: (2n ** 64n - 1n).toString() }).startTimeUnixNano).toBe(2n ** 64n - 1n);
  });

  it('takes an empty object as an empty request', () => {
    expect(decodeJsonRequest(json({}), limits)).toEqual([]);
    expect(decodeJsonRequest(json({ resourceSpans: null }), limits)).toEqual([]);
  });

  it('keeps absent and zero times as undefined for the mapper to reject', () => {
    const body = jsonRequest([{ name: 'x' }]) as { resourceSpans: [{ scopeSpans: [{ spans: Record<string, unknown>[] }] }] };
    const span = body.resourceSpans[0].scopeSpans[0].spans[0]!;
    delete span.startTimeUnixNano;
    span.endTimeUnixNano = '0';
    const [decoded] = decodeJsonRequest(json(body), limits);
    expect(decoded?.startTimeUnixNano).toBeUndefined();
    expect(decoded?.endTimeUnixNano).toBeUndefined();
  });

  it.each([
    ['not JSON', Buffer.from('{"resourceSpans": ['), /^invalid JSON/],
    ['an empty body', Buffer.from(''), /^invalid JSON/],
    ['an array', json([]), /^the request must be an object$/],
    ['a string', json('hello'), /^the request must be an object$/],
    ['resourceSpans not an array', json({ resourceSpans: {} }), /^resourceSpans must be an array$/],
    ['a span that is a number', json({ resourceSpans: [{ scopeSpans: [{ spans: [7] }] }] }), /^resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\] must be an object$/],
    ['a name that is a number', json({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 5 }] }] }] }), /spans\[0\]\.name must be a string$/],
    ['a time that is not an integer', json({ resourceSpans: [{ scopeSpans: [{ spans: [{ startTimeUnixNano: '1.5' }] }] }] }), /startTimeUnixNano must be a 64-bit integer/],
    ['an unknown enum name', json({ resourceSpans: [{ scopeSpans: [{ spans: [{ kind: 'SPAN_KIND_BOGUS' }] }] }] }), /kind must be an enum value/],
    ['attributes not an array', json({ resourceSpans: [{ scopeSpans: [{ spans: [{ attributes: { a: 1 } }] }] }] }), /attributes must be an array$/],
    ['a boolValue that is a string', json({ resourceSpans: [{ resource: { attributes: [{ key: 'a', value: { boolValue: 'yes' } }] } }] }), /resource\.attributes\[0\]\.value\.boolValue must be a boolean$/],
  ])('refuses %s', (_what, body, message) => {
    expect(() => decodeJsonRequest(body, limits)).toThrowError(MalformedRequestError);
    expect(() => decodeJsonRequest(body, limits)).toThrowError(message);
  });

  it('refuses more spans than the limit before reading them', () => {
    const body = jsonRequest(Array.from({ length: 3 }, () => ({ name: 'x' })));
    expect(decodeJsonRequest(json(body), { ...limits, maxSpans: 3 })).toHaveLength(3);
    expect(() => decodeJsonRequest(json(body), { ...limits, maxSpans: 2 })).toThrowError('too many spans: 3 in one request, at most 2 accepted');
  });

  it('does not walk nested values, however deep', () => {
    const depth = 50_000;
    const deep = '{"arrayValue":{"values":['.repeat(depth) + '{"stringValue":"bottom"}' + ']}}'.repeat(depth);
    const text = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"deep","attributes":[{"key":"d","value":${deep}}]}]}]}]}`;
    const [span] = decodeJsonRequest(Buffer.from(text), limits);
    expect(span?.attributes.get('d')).toEqual([null]);
  });
});

describe('decoding OTLP/protobuf', () => {
  it('gives the same spans as JSON', () => {
    // encoded with the receiver's own schema (test/otlp.ts); the unknown fields are left out
    expect(decodeProtobufRequest(toProtobuf(request), limits)).toEqual([expected]);
  });

  it('takes an empty body as an empty request', () => {
    expect(decodeProtobufRequest(new Uint8Array(0), limits)).toEqual([]);
  });

  it('refuses bytes that are not an ExportTraceServiceRequest', () => {
    expect(() => decodeProtobufRequest(Buffer.from('{"resourceSpans":[]}'), limits)).toThrowError(MalformedRequestError);
    expect(() => decodeProtobufRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]), limits)).toThrowError(/^invalid protobuf ExportTraceServiceRequest/);
  });

  it('refuses absurd nesting as bad input rather than failing', () => {
    // A span attribute whose AnyValue.arrayValue (field 5) holds an ArrayValue whose values
    // (field 1) hold an AnyValue, 20,000 levels deep: protobufjs recurses, and runs out of stack.
    const innermost = Buffer.from([0x0a, 0x01, 0x61]); // AnyValue { stringValue: "a" }
    const prefixes: Buffer[] = [];
    let length = innermost.length;
    for (let i = 0; i < 20_000; i++) {
      for (const tag of [0x0a, 0x2a]) {
        prefixes.push(Buffer.concat([Buffer.from([tag]), varint(length)]));
        length += prefixes[prefixes.length - 1]!.length;
      }
    }
    const value = Buffer.concat([...prefixes.reverse(), innermost]);
    const keyValue = Buffer.concat([Buffer.from([0x0a, 0x01, 0x64, 0x12]), varint(value.length), value]);
    const span = Buffer.concat([Buffer.from([0x4a]), varint(keyValue.length), keyValue]);
    const scopeSpans = Buffer.concat([Buffer.from([0x12]), varint(span.length), span]);
    const resourceSpans = Buffer.concat([Buffer.from([0x12]), varint(scopeSpans.length), scopeSpans]);
    const body = Buffer.concat([Buffer.from([0x0a]), varint(resourceSpans.length), resourceSpans]);
    expect(() => decodeProtobufRequest(body, limits)).toThrowError(MalformedRequestError);
    expect(() => decodeProtobufRequest(body, limits)).toThrowError(/Maximum call stack size exceeded/);
  });
});

describe('what the OpenTelemetry JS SDK sends', () => {
  // Spans made with the SDK and sent by the official OTLP/HTTP exporters to a local server that
  // keeps the bodies, then decoded here field by field. The SDK serializes protobuf with a writer
  // of its own (not protobufjs, not this project's schema), so the protobuf case checks the
  // receiver's schema (otlp-proto.ts) against an implementation it shares nothing with.
  const traceId = '5b8efff798038103d269b633813fc60c';
  const parentSpanId = 'eee19b7ec3c1b174';
  const start: [number, number] = [1736942400, 123456789];
  const eventTime: [number, number] = [1736942400, 200000001];
  const end: [number, number] = [1736942400, 373456789];

  interface Received {
    url: string | undefined;
    headers: IncomingHttpHeaders;
    body: Buffer;
  }

  async function exportTwoSpans(encoding: 'protobuf' | 'json') {
    const received: Received[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json' });
        res.end(encoding === 'protobuf' ? encodeProtobufResponse() : '{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const exporter = encoding === 'protobuf' ? new OTLPHttpProtoExporter({ url }) : new OTLPHttpJsonExporter({ url });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'connect-web', 'session.id': 'sess-9', 'app.build': 42 }),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000 })],
    });
    try {
      // a remote parent, as a page's fetch spans have; the trace id is the parent's
      const parent = trace.setSpanContext(context.active(), { traceId, spanId: parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
      const fetch = provider.getTracer('@opentelemetry/instrumentation-fetch', '0.223.0').startSpan(
        'HTTP GET',
        {
          kind: ApiSpanKind.CLIENT,
          startTime: start,
          attributes: {
            'http.request.method': 'GET',
            'url.full': 'https://connect.example/api/menu?lang=en',
            'http.response.status_code': 503,
            'http.response.body.size': 2 ** 40,
            ratio: 0.5,
            cached: false,
            tags: ['a', 'b'],
            sizes: [1, 2],
            long: 'x'.repeat(100),
          },
        },
        parent,
      );
      fetch.addEvent('exception', { 'exception.type': 'TypeError', 'exception.message': 'Failed to fetch' }, eventTime);
      fetch.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      fetch.end(end);
      const pageView = provider.getTracer('connect-web').startSpan('page_view', { startTime: start }, parent);
      pageView.end(end);
      await provider.forceFlush();
      return { received, fetchSpanId: fetch.spanContext().spanId, pageViewSpanId: pageView.spanContext().spanId };
    } finally {
      await provider.shutdown();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it.each([
    ['protobuf', 'application/x-protobuf'],
    ['json', 'application/json'],
  ] as const)('the official OTLP/HTTP %s exporter\'s request decodes field by field', async (encoding, contentType) => {
    const { received, fetchSpanId, pageViewSpanId } = await exportTwoSpans(encoding);
    expect(received).toHaveLength(1);
    expect(received[0]!.url).toBe('/v1/traces');
    expect(received[0]!.headers['content-type']).toBe(contentType);
    const spans = (encoding === 'protobuf' ? decodeProtobufRequest : decodeJsonRequest)(received[0]!.body, limits);
    expect(spans.map((s) => s.name).sort()).toEqual(['HTTP GET', 'page_view']);
    const fetch = spans.find((s) => s.name === 'HTTP GET')!;
    const pageView = spans.find((s) => s.name === 'page_view')!;

    expect(fetch.traceId).toBe(traceId);
    expect(fetch.spanId).toBe(fetchSpanId);
    expect(fetch.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(fetch.kind).toBe(3); // the API's CLIENT is 2, OTLP's SPAN_KIND_CLIENT 3
    expect(fetch.startTimeUnixNano).toBe(1736942400123456789n);
    expect(fetch.endTimeUnixNano).toBe(1736942400373456789n);
    expect(fetch.attributes).toEqual(
      new Map<string, unknown>([
        ['http.request.method', 'GET'],
        ['url.full', 'https://connect.example/api/menu?lang=en'],
        ['http.response.status_code', 503],
        ['http.response.body.size', 2 ** 40],
        ['ratio', 0.5],
        ['cached', false],
        ['tags', ['a', 'b']],
        ['sizes', [1, 2]],
        ['long', 'x'.repeat(64)],
      ]),
    );
    expect(fetch.events).toEqual([
      {
        name: 'exception',
        timeUnixNano: 1736942400200000001n,
        attributes: new Map([
          ['exception.type', 'TypeError'],
          ['exception.message', 'Failed to fetch'],
        ]),
      },
    ]);
    expect(fetch.statusCode).toBe(2);
    expect(fetch.statusMessage).toBe('boom');
    expect(fetch.scopeName).toBe('@opentelemetry/instrumentation-fetch');

    expect(pageView).toMatchObject({ traceId, spanId: pageViewSpanId, kind: 1, statusCode: 0, events: [], scopeName: 'connect-web' });
    expect(pageView.attributes.size).toBe(0);

    for (const span of spans) {
      const resource = Object.fromEntries(span.resource);
      expect(resource).toMatchObject({ 'service.name': 'connect-web', 'session.id': 'sess-9', 'app.build': 42 });
    }
  }, 30_000);
});

describe('protobuf answers', () => {
  it('encodes an ExportTraceServiceResponse, with partial success', () => {
    expect(encodeProtobufResponse()).toHaveLength(0);
    const bytes = encodeProtobufResponse({ rejectedSpans: 3, errorMessage: 'no times' });
    // partial_success (field 1, bytes) { rejected_spans (field 1, varint), error_message (field 2, bytes) }
    expect([...bytes]).toEqual([0x0a, 0x0c, 0x08, 0x03, 0x12, 0x08, ...Buffer.from('no times')]);
    // and as the OpenTelemetry JS exporters read it (their public serializer)
    expect(ProtobufTraceSerializer.deserializeResponse(bytes)).toEqual({ partialSuccess: { rejectedSpans: 3, errorMessage: 'no times' } });
    expect(ProtobufTraceSerializer.deserializeResponse(encodeProtobufResponse())).toEqual({});
  });

  it('encodes a google.rpc.Status', () => {
    // code 3 (field 1, varint), message (field 2, bytes)
    expect([...encodeProtobufStatus(3, 'bad')]).toEqual([0x08, 0x03, 0x12, 0x03, 0x62, 0x61, 0x64]);
    expect([...encodeProtobufStatus(14, 'é'.repeat(100)).subarray(0, 5)]).toEqual([0x08, 0x0e, 0x12, 0xc8, 0x01]);
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

describe('the protobuf schema is the project\'s own', () => {
  it('no module, tests and test helpers included, imports an internal file of an OpenTelemetry package (an upgrade could remove it)', () => {
    const files = [srcRoot, testRoot, benchRoot].flatMap((dir) =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f)),
    );
    expect(files.filter((f) => f.endsWith('.test.ts')).length).toBeGreaterThan(50);
    expect(files).toContain(join(testRoot, 'support', 'otlp.ts'));
    // import ... from '...', import '...', import('...'), require('...'), export ... from '...'
    const internal = /(?:from\s*|import\s*\(?\s*|require\s*\(\s*)['"`]@opentelemetry\/[^'"`]+\/(?:build|src|dist|lib)\//;
    expect(internal.test(`import x from '@opentelemetry/${'otlp-transformer/build/src/generated/root.js'}';`)).toBe(true);
    expect(internal.test(`import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';`)).toBe(false);
    const offenders = files.filter((f) => internal.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});

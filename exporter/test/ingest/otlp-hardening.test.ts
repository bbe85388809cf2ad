// The receiver against bad input, as the OTLP/HTTP specification answers it: 415 for other
// content types, 400 for malformed requests, 413 for oversized bodies (after decompression
// too), truncation of huge values. Random JSON and random bytes never get a 5xx, and a good
// request after all of it still succeeds. CORS and the rate limit, with their own exporter.
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, type BackendKind, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { jsonRequest, post, storedEvents, toProtobuf } from '../support/otlp.js';
import { encodeProtobufStatus } from '../../src/ingest/decode.js';

const MAX_BODY = 65_536;
const MAX_ATTRIBUTE = 256;
const poolEnv = (kind: BackendKind) => (kind === 'pglite' ? { DB_POOL_MAX: '1' } : {});

const protobuf = { headers: { 'content-type': 'application/x-protobuf' } };

describeEachBackend('OTLP receiver against bad input', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;
  let good = 0;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    exporter = await startExporter(db.connectionString, {
      ...poolEnv(kind),
      OTLP_MAX_BODY_BYTES: String(MAX_BODY),
      OTLP_MAX_SPANS_PER_REQUEST: '50',
      OTLP_MAX_ATTRIBUTE_LENGTH: String(MAX_ATTRIBUTE),
      OTLP_RATE_LIMIT_PER_MINUTE: '0',
    });
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  // After every test: the receiver still stores a good request.
  afterEach(async () => {
    const page = `/still-serving/${++good}`;
    const res = await post(exporter.url, jsonRequest([{ name: 'page_view', attributes: { page: '/still-serving', 'session.id': page } }]));
    expect(res.status).toBe(200);
    expect(await storedEvents(exporter.pool, `session_id = '${page}'`)).toHaveLength(1);
  });

  it('answers 415 for other content types and encodings, with a Status body', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/protobuf', '']) {
      const res = await post(exporter.url, '{}', { headers: { 'content-type': type } });
      expect(res.status, type).toBe(415);
      expect(res.json()).toEqual({ code: 3, message: expect.stringContaining('unsupported content type') });
    }
    const br = await post(exporter.url, '{}', { headers: { 'content-encoding': 'br' } });
    expect(br.status).toBe(415);
    expect(br.json()).toEqual({ code: 3, message: 'unsupported content encoding "br": send gzip or no encoding' });
    expect((await post(exporter.url, '{}', { headers: { 'content-type': 'application/json; charset=utf-8' } })).status).toBe(200);
  });

  it('answers 400 for malformed JSON and wrong shapes, with the reason', async () => {
    const cases: [string | object, RegExp][] = [
      ['{"resourceSpans": [', /^invalid JSON/],
      ['', /^invalid JSON/],
      ['null', /^the request must be an object$/],
      [[1, 2], /^the request must be an object$/],
      [{ resourceSpans: 'all of them' }, /^resourceSpans must be an array$/],
      [{ resourceSpans: [{ scopeSpans: [{ spans: [{ startTimeUnixNano: 'yesterday' }] }] }] }, /startTimeUnixNano must be a 64-bit integer/],
      [jsonRequest(Array.from({ length: 51 }, () => ({}))), /^too many spans: 51 in one request, at most 50 accepted$/],
    ];
    for (const [body, message] of cases) {
      const res = await post(exporter.url, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json()).toEqual({ code: 3, message: expect.stringMatching(message) });
    }
  });

  it('answers 400 for malformed protobuf, with a protobuf Status body', async () => {
    const res = await post(exporter.url, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), protobuf);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect(res.body.subarray(0, 2)).toEqual(Buffer.from([0x08, 0x03]));
    expect(res.body.toString('utf8')).toContain('invalid protobuf ExportTraceServiceRequest');
    expect(res.body).toEqual(Buffer.from(encodeProtobufStatus(3, res.body.subarray(4).toString('utf8'))));
  });

  it('answers 413 for a body over the limit, declared or streamed, and closes the connection', async () => {
    const big = Buffer.alloc(MAX_BODY + 1, 0x20);
    const declared = await post(exporter.url, big);
    expect(declared.status).toBe(413);
    expect(declared.json()).toEqual({ code: 3, message: `request body larger than ${MAX_BODY} bytes` });

    // Chunked, no Content-Length: cut off once it passes the limit.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${exporter.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(16_384, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < MAX_BODY * 4) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    }).catch((err: Error) => ({ status: -1, body: err.message }));
    // The answer arrives before the upload ends; a client still writing may see the close instead.
    expect([413, -1]).toContain(streamed.status);
    if (streamed.status === 413) expect(JSON.parse(streamed.body)).toMatchObject({ code: 3 });
  });

  it('answers 413 for a gzip bomb without inflating it all, and 400 for a body that is not gzip', async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"resourceSpans":['), Buffer.alloc(50_000_000, 0x20), Buffer.from(']}')]));
    expect(bomb.length).toBeLessThan(MAX_BODY);
    const res = await post(exporter.url, bomb, { headers: { 'content-encoding': 'gzip' } });
    expect(res.status).toBe(413);
    expect(res.json()).toEqual({ code: 3, message: `request body larger than ${MAX_BODY} bytes` });

    // The same bomb with a wrong checksum in its trailer: inflating all 50 MB reaches the trailer
    // and fails the check (400, invalid gzip); stopping at the limit never sees it (413).
    const badTrailer = Buffer.from(bomb);
    const crc = badTrailer.length - 8; // the trailer: CRC-32, then the size
    badTrailer.writeUInt32LE((badTrailer.readUInt32LE(crc) + 1) >>> 0, crc);
    const stopped = await post(exporter.url, badTrailer, { headers: { 'content-encoding': 'gzip' } });
    expect(stopped.status).toBe(413);
    expect(stopped.json()).toEqual({ code: 3, message: `request body larger than ${MAX_BODY} bytes` });

    const notGzip = await post(exporter.url, '{}', { headers: { 'content-encoding': 'gzip' } });
    expect(notGzip.status).toBe(400);
    expect(notGzip.json()).toEqual({ code: 3, message: expect.stringMatching(/^invalid gzip body/) });

    const fine = await post(exporter.url, jsonRequest([{ name: 'page_view', attributes: { page: '/gz', 'session.id': 'gz' } }]), { gzip: true });
    expect(fine.status).toBe(200);
  });

  it('truncates huge attribute values, then redacts', async () => {
    const message = `failed for jane@example.com ${'x '.repeat(15_000)}`;
    const res = await post(
      exporter.url,
      jsonRequest([
        {
          name: 'render',
          attributes: { 'session.id': 'huge', 'url.full': `https://shop.example/${'p/'.repeat(10_000)}` },
          events: [{ name: 'exception', attributes: { 'exception.type': 'E'.repeat(10_000), 'exception.message': message } }],
        },
      ]),
    );
    expect(res.status).toBe(200);
    const [row] = await storedEvents(exporter.pool, `session_id = 'huge'`);
    expect(row?.event_data).toEqual({
      error_type: '[redacted]', // one run of 10,000 address-or-token characters: junk or a secret, never read by the patterns
      message: `failed for [email] ${'x '.repeat(MAX_ATTRIBUTE).slice(0, MAX_ATTRIBUTE - 'failed for jane@example.com '.length)}`,
      stack: null,
      url: `https://shop.example/${'p/'.repeat(MAX_ATTRIBUTE).slice(0, MAX_ATTRIBUTE - 'https://shop.example/'.length)}`,
      service: 'web',
    });
  });

  it('ignores unknown fields and survives deep nesting', async () => {
    const body = jsonRequest([{ name: 'page_view', attributes: { page: '/unknown-fields', 'session.id': 'unknown' } }]) as Record<string, unknown>;
    body.somethingNew = { a: [1, 2, { b: 'c' }] };
    (body.resourceSpans as Record<string, unknown>[])[0]!.futureField = true;
    expect((await post(exporter.url, body)).status).toBe(200);
    expect(await storedEvents(exporter.pool, `session_id = 'unknown'`)).toHaveLength(1);

    const depth = 8_000;
    const deepValue = '{"arrayValue":{"values":['.repeat(depth) + '{"stringValue":"x"}' + ']}}'.repeat(depth);
    const deep = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x","attributes":[{"key":"d","value":${deepValue}}]}]}]}],"z":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(deep.length).toBeLessThan(MAX_BODY * 4);
    const res = await post(exporter.url, deep.slice(0, MAX_BODY)); // cut: invalid JSON
    expect(res.status).toBe(400);
    // Valid and deep: the nested values are never walked (nor validated), so depth costs nothing.
    const shallower = 2_000;
    const fits = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x","attributes":[{"key":"d","value":${'{"arrayValue":{"values":['.repeat(shallower)}1${']}}'.repeat(shallower)}}]}]}]}]}`;
    expect(fits.length).toBeLessThan(MAX_BODY);
    expect((await post(exporter.url, fits)).status).toBe(200);
  });

  it('answers 405 for other methods', async () => {
    const res = await fetch(`${exporter.url}/v1/traces`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST, OPTIONS');
  });

  it('never answers random JSON with a 5xx', async () => {
    // Mostly well-typed OTLP (so requests get through to the mapping and the insert), with
    // hostile strings, edge numbers, and now and then a wrong type.
    const anyString = fc.string({ unit: fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udfff', '@', '-', '/', '?', '.'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 });
    const wrongType = fc.oneof(fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}), anyString);
    const rarely = <T,>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 60 }, { arbitrary: wrongType, weight: 1 });
    const anyValue = fc.oneof(
      fc.record({ stringValue: rarely(fc.oneof(anyString, fc.constantFrom('https://a.example/orders/1?x=jane@example.com', '/menu/pizza', 'LCP', 'GET', 'good'))) }),
      fc.record({ intValue: rarely(fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String))) }),
      fc.record({ doubleValue: rarely(fc.oneof(fc.double(), fc.constantFrom('NaN', 'Infinity'))) }),
      fc.record({ boolValue: rarely(fc.boolean()) }),
      fc.array(fc.record({ stringValue: anyString }), { maxLength: 3 }).map((values) => ({ arrayValue: { values } })),
      fc.record({ kvlistValue: fc.jsonValue({ maxDepth: 2 }) }),
    );
    const keys = fc.constantFrom(
      'page', 'url.full', 'http.url', 'http.request.method', 'http.response.status_code', 'session.id', 'user.action', 'user.action.x',
      'browser.web_vital.name', 'browser.web_vital.value', 'exception.type', 'exception.message', 'exception.stacktrace', 'document.referrer', '__proto__',
    );
    const attributes = fc.array(fc.record({ key: rarely(fc.oneof(keys, anyString)), value: anyValue }), { maxLength: 6 });
    const time = rarely(fc.oneof({ arbitrary: fc.bigInt({ min: 1_600_000_000_000_000_000n, max: 1_900_000_000_000_000_000n }).map(String), weight: 5 }, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String), fc.nat()));
    const nanos = fc.bigInt({ min: 1_600_000_000_000_000_000n, max: 1_900_000_000_000_000_000n });
    const times = fc.oneof(
      { arbitrary: fc.tuple(nanos, fc.bigInt({ min: 0n, max: 10n ** 12n })).map(([start, d]) => ({ startTimeUnixNano: String(start), endTimeUnixNano: String(start + d) })), weight: 5 },
      fc.record({ startTimeUnixNano: time, endTimeUnixNano: time }, { requiredKeys: [] }),
    );
    // Mostly valid ids (else every span would be rejected before the mapping), sometimes anything.
    const hexId = (bytes: number) => fc.oneof({ arbitrary: fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex')), weight: 9 }, anyString);
    const span = fc.record(
      {
        traceId: hexId(16),
        spanId: hexId(8),
        name: rarely(fc.oneof(fc.constantFrom('documentLoad', 'page_view', 'route_change', 'HTTP GET', 'Navigation: /x'), anyString)),
        kind: rarely(fc.oneof(fc.integer({ min: -1, max: 6 }), fc.constantFrom('SPAN_KIND_CLIENT', 'SPAN_KIND_INTERNAL'))),
        times,
        attributes,
        events: fc.array(fc.record({ name: fc.constantFrom('exception', 'other'), timeUnixNano: time, attributes }), { maxLength: 2 }),
        status: fc.record({ code: rarely(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom('STATUS_CODE_ERROR'))), message: anyString }, { requiredKeys: [] }),
      },
      { requiredKeys: ['times', 'traceId', 'spanId'] },
    ).map(({ times: t, ...rest }) => ({ ...rest, ...t }));
    const scope = fc.constantFrom('@opentelemetry/instrumentation-fetch', '@opentelemetry/instrumentation-document-load', '@opentelemetry/instrumentation-user-interaction', 'app');
    const otlpShaped = fc.record({
      resourceSpans: fc.array(
        fc.record({ resource: fc.record({ attributes }), scopeSpans: fc.array(fc.record({ scope: fc.record({ name: scope }), spans: fc.array(span, { maxLength: 4 }) }), { maxLength: 2 }) }),
        { maxLength: 2 },
      ),
    });
    const seen = { 200: 0, 400: 0 };
    const before = (await storedEvents(exporter.pool)).length;
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: otlpShaped, weight: 4 }, fc.jsonValue()), async (body) => {
        const res = await post(exporter.url, JSON.stringify(body));
        expect([200, 400]).toContain(res.status);
        seen[res.status as 200 | 400]++;
        if (res.status === 400) expect(res.json()).toMatchObject({ code: 3 });
      }),
      { numRuns: 300 },
    );
    // Both answers, and rows stored: the fuzzing reached the mapping and the insert.
    expect(seen[200]).toBeGreaterThan(30);
    expect(seen[400]).toBeGreaterThan(30);
    expect((await storedEvents(exporter.pool)).length - before).toBeGreaterThan(20);
  });

  it('never answers random bytes as protobuf with a 5xx', async () => {
    const valid = toProtobuf({
      resourceSpans: [
        {
          scopeSpans: [
            {
              scope: { name: '@opentelemetry/instrumentation-fetch' },
              spans: [
                {
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  name: 'GET',
                  kind: 3,
                  startTimeUnixNano: '1736942400000000000',
                  endTimeUnixNano: '1736942400100000000',
                  attributes: [{ key: 'url.full', value: { stringValue: 'https://a.example/x' } }, { key: 'session.id', value: { stringValue: 'fuzz' } }],
                },
              ],
            },
          ],
        },
      ],
    });
    expect((await post(exporter.url, valid, protobuf)).status).toBe(200);
    const mutated = fc
      .array(fc.record({ at: fc.nat({ max: valid.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 })
      .map((flips) => {
        const copy = Buffer.from(valid);
        for (const { at, byte } of flips) copy[at] = byte;
        return copy;
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 2_000 }), mutated), async (bytes) => {
        const res = await post(exporter.url, bytes, protobuf);
        expect([200, 400]).toContain(res.status);
      }),
      { numRuns: 300 },
    );
  });
});

describeEachBackend('OTLP receiver CORS and rate limit', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;
  const allowed = 'https://shop.example.com';

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    exporter = await startExporter(db.connectionString, {
      ...poolEnv(kind),
      OTLP_CORS_ALLOWED_ORIGINS: `${allowed},https://admin.example.com`,
      OTLP_RATE_LIMIT_PER_MINUTE: '5',
    });
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  const preflight = (origin: string) =>
    fetch(`${exporter.url}/v1/traces`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });

  it('answers the preflight of an allowed origin only', async () => {
    const ok = await preflight(allowed);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(ok.headers.get('access-control-allow-methods')).toBe('POST');
    expect(ok.headers.get('access-control-allow-headers')).toBe('Content-Type, Content-Encoding');
    expect(ok.headers.get('vary')).toBe('Origin');
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true'); // sendBeacon's credentials mode

    const denied = await preflight('https://evil.example');
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    expect(denied.headers.get('access-control-allow-credentials')).toBeNull();
    expect(await denied.json()).toEqual({ code: 7, message: 'origin https://evil.example is not allowed' });
  });

  it('gives CORS headers to an allowed origin and none to others; then limits the rate with Retry-After', async () => {
    // A new request each time (new span ids): the same bytes again would be a replay, stored once.
    const body = () => jsonRequest([{ name: 'page_view', attributes: { page: '/cors' } }]);
    const fromShop = await post(exporter.url, body(), { headers: { origin: allowed } });
    expect(fromShop.status).toBe(200);
    expect(fromShop.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(fromShop.headers.get('access-control-expose-headers')).toBe('Retry-After');
    expect(fromShop.headers.get('access-control-allow-credentials')).toBe('true');

    const fromElsewhere = await post(exporter.url, body(), { headers: { origin: 'https://evil.example' } });
    expect(fromElsewhere.headers.get('access-control-allow-origin')).toBeNull();
    expect(fromElsewhere.headers.get('access-control-allow-credentials')).toBeNull();

    const sameOrigin = await post(exporter.url, body());
    expect(sameOrigin.headers.get('access-control-allow-origin')).toBeNull();

    // 5 per minute: 3 used above (and the preflights are not counted).
    expect((await post(exporter.url, body())).status).toBe(200);
    expect((await post(exporter.url, body())).status).toBe(200);
    const limited = await post(exporter.url, body(), { headers: { origin: allowed } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('12');
    expect(limited.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(limited.json()).toEqual({ code: 8, message: 'rate limit of 5 requests per minute exceeded' });
    const limitedProtobuf = await post(exporter.url, new Uint8Array(0), protobuf);
    expect(limitedProtobuf.status).toBe(429);
    expect(limitedProtobuf.headers.get('content-type')).toBe('application/x-protobuf');
    expect(await storedEvents(exporter.pool)).toHaveLength(5);
  });
});

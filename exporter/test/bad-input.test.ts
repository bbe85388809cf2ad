// The bad-input suite: one real exporter process (the built dist/server.js) with /metrics behind a
// bearer token, the Alertmanager webhooks and the SMS bridge on (Twilio is a local fake), against
// a fresh database of the Postgres server. A table of malformed, mistyped, deep, huge, mis-encoded
// and unauthenticated requests over every endpoint: each must get the 4xx (and message) written
// next to it, never a 5xx, and write no row. A few hostile but valid requests are answered 200,
// with what they may store checked. Then replays, then the whole table twice more while the
// process's heap (after gc, read by a probe preloaded into the process) must come back to its
// baseline; the process is still serving at the end, and its output holds no secret.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTestDatabase, type TestDatabase } from './support/databases.js';
import { spawnExporter, type SpawnedExporter } from './support/exporter.js';
import { jsonRequest, toProtobuf } from './support/otlp.js';
import { secretFile, startTwilioSink, type TwilioSink } from './support/sinks.js';

const METRICS_TOKEN = `metrics-${randomBytes(12).toString('hex')}`;
const HOOKS_TOKEN = `hooks-${randomBytes(12).toString('hex')}`;
const SERVER_TOKEN = `server-${randomBytes(16).toString('hex')}`;
const TWILIO_SECRET = `twilio-${randomBytes(12).toString('hex')}`;
const SID = `AC${randomBytes(16).toString('hex')}`;
const MAX_BODY = 1_000_000; // OTLP_MAX_BODY_BYTES's default
const MAX_SPANS = 1000; // OTLP_MAX_SPANS_PER_REQUEST's default
/** heap after gc may grow this much over the baseline across two more rounds of the table */
const HEAP_TOLERANCE = 24 * 1024 * 1024;

// ---- requests --------------------------------------------------------------------------------

interface Request {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP/1.1 request with exactly these headers (no content type unless given). */
/**
 * A refusal of a body the server does not read (413, 401) closes the connection with the rest of
 * the body unread, so the kernel resets it; a client still writing then gets EPIPE or ECONNRESET,
 * and on a busy machine that can come before the answer is read. Such a request wrote nothing
 * (it was refused), so it is sent again, up to three times in all.
 */
async function send(base: string, request: Request): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendOnce(base, request);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt >= 3 || (code !== 'EPIPE' && code !== 'ECONNRESET')) throw err;
    }
  }
}

function sendOnce(base: string, { method = 'POST', path, headers = {}, body }: Request): Promise<Answer> {
  const bytes = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(`${base}${path}`, { method, headers: { ...(bytes ? { 'content-length': String(bytes.length) } : {}), ...headers }, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    // A 413 arrives while the body is still being written, and the server then closes the
    // connection: the write's EPIPE or ECONNRESET after the answer is not a failure.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.end(bytes);
  });
}

/** Raw bytes on a new connection; the answer's status line and whatever follows, until the server closes. */
function sendRaw(port: number, bytes: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, headers: {}, body: Buffer.from(text, 'latin1') });
    });
    socket.end(bytes);
  });
}

// ---- the table -------------------------------------------------------------------------------

interface Case {
  endpoint: string;
  name: string;
  request: Request | { raw: Buffer | string };
  status: number;
  /** what the answer's body must say; undefined only where Node's HTTP parser answers with a bare status line */
  message: RegExp | undefined;
}

const json = { 'content-type': 'application/json' };
const protobuf = { 'content-type': 'application/x-protobuf' };
const hookAuth = { authorization: `Bearer ${HOOKS_TOKEN}` };
const metricsAuth = { authorization: `Bearer ${METRICS_TOKEN}` };


/** protobuf wire format by hand: a length-delimited field, a varint field */
const varint = (value: number): Buffer => {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
};
const ld = (field: number, payload: Buffer): Buffer => Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);

/** An ExportTraceServiceRequest whose one span has one attribute whose value nests `depth` arrays. */
function deepProtobuf(depth: number): Buffer {
  let value = ld(1, Buffer.from('x')); // AnyValue.string_value
  for (let i = 0; i < depth; i++) value = ld(5, ld(1, value)); // AnyValue.array_value { values }
  const span = Buffer.concat([ld(5, Buffer.from('deep')), ld(9, Buffer.concat([ld(1, Buffer.from('d')), ld(2, value)]))]);
  return ld(1, ld(2, ld(2, span))); // resource_spans { scope_spans { spans } }
}

/** The text as UTF-8 with its one U+0001 character replaced by a raw byte. */
const withByte = (text: string, byte: number): Buffer => {
  const [head = '', tail = ''] = text.split('\u0001');
  return Buffer.concat([Buffer.from(head), Buffer.from([byte]), Buffer.from(tail)]);
};
const oneSpan = (span: object) => ({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] });
const goodOtlp = (session: string) => jsonRequest([{ name: 'page_view', attributes: { page: '/menu', 'session.id': session } }]);
const bomb = (prefix: string) => gzipSync(Buffer.concat([Buffer.from(prefix), Buffer.alloc(50_000_000, 0x20)]));
const validProtobuf = toProtobuf({
  resourceSpans: [{ scopeSpans: [{ scope: { name: 'app' }, spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'page_view', startTimeUnixNano: '1736942400000000000', attributes: [{ key: 'page', value: { stringValue: '/p' } }] }] }] }],
});

function alert(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status: 'firing',
    labels: { alertname: 'PaymentFailures', severity: 'critical' },
    annotations: { summary: 'Payments are failing.' },
    startsAt: '2026-01-02T03:04:05.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: 'badinput0000001',
    ...overrides,
  };
}
const webhook = (alerts: unknown, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ version: '4', receiver: 'bad-input', status: 'firing', groupKey: '{}:{alertname="PaymentFailures"}', groupLabels: {}, commonLabels: { alertname: 'PaymentFailures' }, alerts, ...overrides });

function otlpJsonCases(): Case[] {
  const c = (name: string, body: Buffer | string | object, status: number, message: RegExp, headers: Record<string, string> = json): Case => ({
    endpoint: 'POST /v1/traces (JSON)',
    name,
    request: { path: '/v1/traces', headers, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) },
    status,
    message,
  });
  const span = (fields: object) => oneSpan({ name: 'x', ...fields });
  return [
    c('truncated JSON', '{"resourceSpans": [', 400, /^invalid JSON/),
    c('empty body', '', 400, /^invalid JSON/),
    c('trailing garbage', '{"resourceSpans": []} x', 400, /^invalid JSON/),
    c('a raw control character inside a string', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a\u0001b"}]}]}]}', 400, /^invalid JSON: Bad control character/),
    c('JSON with comments', '{/* c */ "resourceSpans": []}', 400, /^invalid JSON/),
    c('null', 'null', 400, /the request must be an object/),
    c('an array', '[1, 2]', 400, /the request must be an object/),
    c('a string', '"resourceSpans"', 400, /the request must be an object/),
    c('a number', '42', 400, /the request must be an object/),
    c('resourceSpans a string', { resourceSpans: 'all' }, 400, /resourceSpans must be an array/),
    c('resourceSpans an object', { resourceSpans: { 0: {} } }, 400, /resourceSpans must be an array/),
    c('a resourceSpans entry a number', { resourceSpans: [1] }, 400, /resourceSpans\[0\] must be an object/),
    c('scopeSpans a string', { resourceSpans: [{ scopeSpans: 'x' }] }, 400, /resourceSpans\[0\]\.scopeSpans must be an array/),
    c('spans an object', { resourceSpans: [{ scopeSpans: [{ spans: {} }] }] }, 400, /scopeSpans\[0\]\.spans must be an array/),
    c('a span a string', { resourceSpans: [{ scopeSpans: [{ spans: ['span'] }] }] }, 400, /spans\[0\] must be an object/),
    c('resource a list', { resourceSpans: [{ resource: [], scopeSpans: [] }] }, 400, /resource must be an object/),
    c('scope name a number', { resourceSpans: [{ scopeSpans: [{ scope: { name: 7 }, spans: [] }] }] }, 400, /scope\.name must be a string/),
    c('span name a number', span({ name: 12 }), 400, /\.name must be a string/),
    c('span name an object', span({ name: { text: 'x' } }), 400, /\.name must be a string/),
    c('kind an unknown name', span({ kind: 'SPAN_KIND_BOGUS' }), 400, /\.kind must be an enum value/),
    c('kind a fraction', span({ kind: 1.5 }), 400, /\.kind must be an enum value/),
    c('kind a boolean', span({ kind: true }), 400, /\.kind must be an enum value/),
    c('start time a word', span({ startTimeUnixNano: 'yesterday' }), 400, /startTimeUnixNano must be a 64-bit integer/),
    c('start time a fraction', span({ startTimeUnixNano: 1.5 }), 400, /startTimeUnixNano must be a 64-bit integer/),
    c('start time in exponent form', span({ startTimeUnixNano: '1e18' }), 400, /startTimeUnixNano must be a 64-bit integer/),
    c('end time of 30 digits', span({ endTimeUnixNano: '1'.repeat(30) }), 400, /endTimeUnixNano must be a 64-bit integer/),
    c('attributes an object', span({ attributes: { page: '/x' } }), 400, /\.attributes must be an array/),
    c('an attribute key a number', span({ attributes: [{ key: 1, value: { stringValue: 'x' } }] }), 400, /attributes\[0\]\.key must be a string/),
    c('an attribute value a string', span({ attributes: [{ key: 'k', value: 'v' }] }), 400, /attributes\[0\]\.value must be an object/),
    c('boolValue a string', span({ attributes: [{ key: 'k', value: { boolValue: 'true' } }] }), 400, /boolValue must be a boolean/),
    c('intValue a word', span({ attributes: [{ key: 'k', value: { intValue: 'many' } }] }), 400, /intValue must be a 64-bit integer/),
    c('doubleValue a word', span({ attributes: [{ key: 'k', value: { doubleValue: 'pi' } }] }), 400, /doubleValue must be a number/),
    c('arrayValue.values an object', span({ attributes: [{ key: 'k', value: { arrayValue: { values: {} } } }] }), 400, /arrayValue\.values must be an array/),
    c('status a string', span({ status: 'ERROR' }), 400, /\.status must be an object/),
    c('status code an unknown name', span({ status: { code: 'STATUS_CODE_MAYBE' } }), 400, /status\.code must be an enum value/),
    c('events a string', span({ events: 'click' }), 400, /\.events must be an array/),
    c('an event time a word', span({ events: [{ name: 'e', timeUnixNano: 'now' }] }), 400, /events\[0\]\.timeUnixNano must be a 64-bit integer/),
    c(`${MAX_SPANS + 1} spans`, jsonRequest(Array.from({ length: MAX_SPANS + 1 }, () => ({}))), 400, new RegExp(`too many spans: ${MAX_SPANS + 1} in one request, at most ${MAX_SPANS} accepted`)),
    c('arrays nested 400,000 deep', `${'['.repeat(400_000)}${']'.repeat(400_000)}`, 400, /invalid JSON|the request must be an object/),
    c('objects nested 150,000 deep in an unknown field, cut short', `{"resourceSpans":[],"x":${'{"a":'.repeat(150_000)}`, 400, /^invalid JSON/),
    c('a 2 MB string (over the body limit)', JSON.stringify(span({ name: 'x'.repeat(2_000_000) })), 413, new RegExp(`request body larger than ${MAX_BODY} bytes`)),
    c('invalid UTF-8 outside any string', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"resourceSpans":[]}')]), 400, /^invalid JSON/),
    c('UTF-16 with a byte order mark', Buffer.from('\ufeff{"resourceSpans":[]}', 'utf16le'), 400, /^invalid JSON/),
    c('content type text/plain', '{}', 415, /unsupported content type "text\/plain"/, { 'content-type': 'text/plain' }),
    c('content type application/xml', '<x/>', 415, /unsupported content type "application\/xml"/, { 'content-type': 'application/xml' }),
    c('content type multipart/form-data', '--b--', 415, /unsupported content type "multipart\/form-data; boundary=b"/, { 'content-type': 'multipart/form-data; boundary=b' }),
    c('no content type', '{}', 415, /unsupported content type ""/, {}),
    c('a 500-character content type', '{}', 415, /unsupported content type "x{100}"/, { 'content-type': 'x'.repeat(500) }),
    c('content encoding br', '{}', 415, /unsupported content encoding "br"/, { ...json, 'content-encoding': 'br' }),
    c('content encoding deflate', '{}', 415, /unsupported content encoding "deflate"/, { ...json, 'content-encoding': 'deflate' }),
    c('content encoding gzip twice', gzipSync(gzipSync('{}')), 415, /unsupported content encoding "gzip, gzip"/, { ...json, 'content-encoding': 'gzip, gzip' }),
    c('a gzip bomb (50 MB of spaces)', bomb('{"resourceSpans":['), 413, new RegExp(`request body larger than ${MAX_BODY} bytes`), { ...json, 'content-encoding': 'gzip' }),
    c('gzip declared, plain body', '{"resourceSpans":[]}', 400, /invalid gzip body/, { ...json, 'content-encoding': 'gzip' }),
    c('gzip cut in half', gzipSync(JSON.stringify(goodOtlp('cut'))).subarray(0, 30), 400, /invalid gzip body/, { ...json, 'content-encoding': 'gzip' }),
    c('gzip of invalid JSON', gzipSync('{"resourceSpans": ['), 400, /^invalid JSON/, { ...json, 'content-encoding': 'gzip' }),
    c('a protobuf body sent as JSON', validProtobuf, 400, /^invalid JSON/),
  ];
}

function otlpProtobufCases(): Case[] {
  const c = (name: string, body: Buffer | string, status: number, message: RegExp, headers: Record<string, string> = protobuf): Case => ({
    endpoint: 'POST /v1/traces (protobuf)',
    name,
    request: { path: '/v1/traces', headers, body },
    status,
    message,
  });
  const invalid = /invalid protobuf ExportTraceServiceRequest/;
  return [
    c('random bytes', Buffer.from('ffffffffffffffffffff', 'hex'), 400, invalid),
    c('a length past the end', Buffer.from('0aff', 'hex'), 400, invalid),
    c('a length of 4 GB', Buffer.from('0affffffff0f01', 'hex'), 400, invalid),
    c('a valid request cut short', validProtobuf.subarray(0, validProtobuf.length - 5), 400, invalid),
    c('an unknown field with wire type 7', Buffer.from('9f0600', 'hex'), 400, invalid),
    c('an end-group tag without a group', Buffer.from('0c', 'hex'), 400, invalid),
    c('a varint of 11 bytes', Buffer.from('08ffffffffffffffffffff01', 'hex'), 400, invalid),
    c('a JSON body sent as protobuf', JSON.stringify(goodOtlp('json-as-protobuf')), 400, invalid),
    c('arrays nested 60,000 deep', deepProtobuf(60_000), 400, invalid),
    c(`${MAX_SPANS + 1} spans`, toProtobuf({ resourceSpans: [{ scopeSpans: [{ spans: Array.from({ length: MAX_SPANS + 1 }, () => ({ name: 'x' })) }] }] }), 400, /too many spans: 1001/),
    c('a 2 MB span name (over the body limit)', toProtobuf({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x'.repeat(2_000_000) }] }] }] }), 413, /request body larger than/),
    c('a gzip bomb', bomb(''), 413, /request body larger than/, { ...protobuf, 'content-encoding': 'gzip' }),
    c('gzip declared, plain body', validProtobuf, 400, /invalid gzip body/, { ...protobuf, 'content-encoding': 'gzip' }),
    c('content type application/protobuf', validProtobuf, 415, /unsupported content type "application\/protobuf"/, { 'content-type': 'application/protobuf' }),
    c('content type application/octet-stream', validProtobuf, 415, /unsupported content type "application\/octet-stream"/, { 'content-type': 'application/octet-stream' }),
    c('content encoding zstd', validProtobuf, 415, /unsupported content encoding "zstd"/, { ...protobuf, 'content-encoding': 'zstd' }),
  ];
}

function otlpOtherCases(): Case[] {
  const c = (name: string, request: Request, status: number, message: RegExp): Case => ({ endpoint: '/v1/traces, other methods', name, request, status, message });
  return [
    c('GET', { method: 'GET', path: '/v1/traces' }, 405, /GET is not supported on \/v1\/traces: POST spans/),
    c('PUT', { method: 'PUT', path: '/v1/traces', headers: json, body: '{}' }, 405, /PUT is not supported/),
    c('DELETE', { method: 'DELETE', path: '/v1/traces' }, 405, /DELETE is not supported/),
    c('PATCH', { method: 'PATCH', path: '/v1/traces', headers: json, body: '{}' }, 405, /PATCH is not supported/),
    c('a preflight from an origin not allowed', { method: 'OPTIONS', path: '/v1/traces', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } }, 403, /origin https:\/\/evil\.example is not allowed/),
  ];
}

function hookCases(path: string): Case[] {
  const endpoint = `POST ${path}`;
  const c = (name: string, body: Buffer | string, status: number, message: RegExp, headers: Record<string, string> = { ...json, ...hookAuth }): Case => ({
    endpoint,
    name,
    request: { path, headers, body },
    status,
    message,
  });
  const notJson = /the body is not JSON/;
  const notPayload = (m: string) => new RegExp(`not an Alertmanager webhook payload: ${m}`);
  const good = webhook([alert()]);
  return [
    c('no Authorization header', good, 401, /unauthorized/, json),
    c('a wrong bearer token', good, 401, /unauthorized/, { ...json, authorization: 'Bearer wrong' }),
    c('the token without "Bearer "', good, 401, /unauthorized/, { ...json, authorization: HOOKS_TOKEN }),
    c('the token as basic auth', good, 401, /unauthorized/, { ...json, authorization: `Basic ${Buffer.from(`alertmanager:${HOOKS_TOKEN}`).toString('base64')}` }),
    c('the token minus its last character', good, 401, /unauthorized/, { ...json, authorization: `Bearer ${HOOKS_TOKEN.slice(0, -1)}` }),
    c('the token plus a character', good, 401, /unauthorized/, { ...json, authorization: `Bearer ${HOOKS_TOKEN}x` }),
    c('the /metrics token', good, 401, /unauthorized/, { ...json, ...metricsAuth }),
    c('an 8 KB token', good, 401, /unauthorized/, { ...json, authorization: `Bearer ${'t'.repeat(8192)}` }),
    c('a wrong token with a malformed body (the token is checked first)', '{nope', 401, /unauthorized/, { ...json, authorization: 'Bearer wrong' }),
    c('malformed JSON', '{nope', 400, notJson),
    c('invalid UTF-8 outside any string', Buffer.concat([Buffer.from([0xc3, 0x28]), Buffer.from(good)]), 400, notJson),
    c('null', 'null', 400, notJson),
    c('a string', '"alerts"', 400, notJson),
    c('an empty body', '', 400, notPayload('alerts must be an array')),
    c('an array', '[]', 400, notPayload('the body must be a JSON object')),
    c('version 3', webhook([alert()], { version: '3' }), 400, notPayload('unsupported payload version "3": expected "4"')),
    c('alerts a string', webhook('all of them'), 400, notPayload('alerts must be an array')),
    c('an alert a number', webhook([1]), 400, notPayload('alerts\\[0\\] must be an object')),
    c('labels without alertname', webhook([alert({ labels: { severity: 'critical' } })]), 400, notPayload('alerts\\[0\\]\\.labels\\.alertname is missing')),
    c('a label value a number', webhook([alert({ labels: { alertname: 'X', severity: 3 } })]), 400, notPayload('alerts\\[0\\]\\.labels\\.severity must be a string')),
    c('annotations a list', webhook([alert({ annotations: ['x'] })]), 400, notPayload('alerts\\[0\\]\\.annotations must be an object of strings')),
    c('no fingerprint', webhook([alert({ fingerprint: undefined })]), 400, notPayload('alerts\\[0\\]\\.fingerprint is missing')),
    c('fingerprint a number', webhook([alert({ fingerprint: 42 })]), 400, notPayload('alerts\\[0\\]\\.fingerprint is missing')),
    c('startsAt a word', webhook([alert({ startsAt: 'yesterday' })]), 400, notPayload('alerts\\[0\\]\\.startsAt must be an RFC 3339 time, got "yesterday"')),
    c('startsAt a number', webhook([alert({ startsAt: 1735787045 })]), 400, notPayload('alerts\\[0\\]\\.startsAt must be an RFC 3339 time')),
    c('endsAt a word', webhook([alert({ endsAt: 'never' })]), 400, notPayload('alerts\\[0\\]\\.endsAt must be an RFC 3339 time')),
    c('an alert status "exploded"', webhook([alert({ status: 'exploded' })]), 400, notPayload('alerts\\[0\\]\\.status must be "firing" or "resolved", got "exploded"')),
    c('no payload status', webhook([alert()], { status: undefined }), 400, notPayload('status must be "firing" or "resolved", got nothing')),
    c('groupLabels a string', webhook([alert()], { groupLabels: 'x' }), 400, notPayload('groupLabels must be an object of strings')),
    c('1,001 alerts', webhook(Array.from({ length: 1001 }, (_, i) => alert({ fingerprint: `f${i}` }))), 400, notPayload('more than 1000 alerts in one payload')),
    c('arrays nested 400,000 deep', `{"alerts":[],"x":${'['.repeat(400_000)}${']'.repeat(400_000)}}`, 400, /the body is not JSON|not an Alertmanager webhook payload: status must be/),
    c('a 3 MB annotation (over the 2 MB limit)', webhook([alert({ annotations: { summary: 'x'.repeat(3_000_000) } })]), 413, /request entity too large/),
    c('content type text/plain, body not JSON', 'alert!', 400, notJson, { 'content-type': 'text/plain', ...hookAuth }),
    c('charset latin1', good, 415, /unsupported charset "LATIN1"/, { 'content-type': 'application/json; charset=latin1', ...hookAuth }),
    c('content encoding compress', good, 415, /unsupported content encoding "compress"/, { ...json, ...hookAuth, 'content-encoding': 'compress' }),
    c('content encoding br, body not brotli', good, 400, /^the body is not valid Content-Encoding br data: Decompression failed/, { ...json, ...hookAuth, 'content-encoding': 'br' }),
    c('a gzip bomb (50 MB of spaces)', bomb('{"alerts":['), 413, /request entity too large/, { ...json, ...hookAuth, 'content-encoding': 'gzip' }),
    c('gzip declared, plain body', good, 400, /^the body is not valid Content-Encoding gzip data: incorrect header check/, { ...json, ...hookAuth, 'content-encoding': 'gzip' }),
  ];
}

function hookOtherCases(): Case[] {
  const c = (name: string, request: Request, status: number, message: RegExp): Case => ({ endpoint: '/hooks, other routes and methods', name, request, status, message });
  return [
    c('GET /hooks/alert-history', { method: 'GET', path: '/hooks/alert-history', headers: hookAuth }, 405, /GET \/hooks\/alert-history: the webhooks are POST/),
    c('PUT /hooks/sms', { method: 'PUT', path: '/hooks/sms', headers: { ...json, ...hookAuth }, body: '{}' }, 405, /PUT \/hooks\/sms: the webhooks are POST/),
    c('POST /hooks/unknown', { path: '/hooks/unknown', headers: { ...json, ...hookAuth }, body: '{}' }, 404, /POST \/hooks\/unknown: the webhooks are POST/),
    c('POST /hooks', { path: '/hooks', headers: { ...json, ...hookAuth }, body: '{}' }, 404, /the webhooks are POST/),
    c('POST /hooks/ with a broken percent-encoding', { path: '/hooks/%E0%A4%A', headers: { ...json, ...hookAuth }, body: '{}' }, 400, /Failed to decode param/),
  ];
}

function metricsCases(): Case[] {
  const c = (name: string, request: Request, status: number, message: RegExp): Case => ({ endpoint: 'GET /metrics (bearer token on)', name, request, status, message });
  const get = (headers: Record<string, string>, path = '/metrics'): Request => ({ method: 'GET', path, headers });
  const unauthorized = /^unauthorized\n$/;
  return [
    c('no Authorization header', get({}), 401, unauthorized),
    c('a wrong token', get({ authorization: 'Bearer wrong' }), 401, unauthorized),
    c('"Bearer" alone', get({ authorization: 'Bearer' }), 401, unauthorized),
    c('the token without "Bearer "', get({ authorization: METRICS_TOKEN }), 401, unauthorized),
    c('the token as a basic password', get({ authorization: `Basic ${Buffer.from(`prometheus:${METRICS_TOKEN}`).toString('base64')}` }), 401, unauthorized),
    c('the token in upper case', get({ authorization: `Bearer ${METRICS_TOKEN.toUpperCase()}` }), 401, unauthorized),
    c('the token minus its last character', get({ authorization: `Bearer ${METRICS_TOKEN.slice(0, -1)}` }), 401, unauthorized),
    c('the token plus a character', get({ authorization: `Bearer ${METRICS_TOKEN}0` }), 401, unauthorized),
    c('two spaces after Bearer', get({ authorization: `Bearer  ${METRICS_TOKEN}` }), 401, unauthorized),
    c('the webhooks token', get(hookAuth), 401, unauthorized),
    c('the token in the query string', get({}, `/metrics?token=${METRICS_TOKEN}`), 401, unauthorized),
    c('an 8 KB token', get({ authorization: `Bearer ${'m'.repeat(8192)}` }), 401, unauthorized),
    c('a token of Latin-1 bytes', get({ authorization: 'Bearer \u00ff\u00fe\u00e9' }), 401, unauthorized),
    c('HEAD without a token', { method: 'HEAD', path: '/metrics' }, 401, /^$/),
    c('POST', { path: '/metrics', headers: { ...json, ...metricsAuth }, body: '{}' }, 404, /no route for POST \/metrics/),
  ];
}

function otherCases(): Case[] {
  const c = (name: string, request: Request | { raw: string }, status: number, message: RegExp | undefined): Case => ({ endpoint: 'health, ready, / and the HTTP layer', name, request, status, message });
  return [
    c('POST /healthz', { path: '/healthz', headers: json, body: '{}' }, 404, /no route for POST \/healthz/),
    c('DELETE /readyz', { method: 'DELETE', path: '/readyz' }, 404, /no route for DELETE \/readyz/),
    c('PUT /', { method: 'PUT', path: '/', headers: json, body: '{}' }, 404, /no route for PUT \//),
    c('GET of an unknown path', { method: 'GET', path: '/admin' }, 404, /no route for GET \/admin/),
    c('GET of a broken percent-encoding', { method: 'GET', path: '/%E0%A4%A' }, 404, /no route for GET \/%E0%A4%A/),
    c('GET of a path traversal', { method: 'GET', path: '/../../etc/passwd' }, 404, /no route for GET \/etc\/passwd/),
    c('headers over 16 KB (Node answers 431 itself)', { method: 'GET', path: '/healthz', headers: { 'x-junk': 'j'.repeat(20_000) } }, 431, undefined),
    c('a request line that is not HTTP', { raw: 'HELLO THERE\r\n\r\n' }, 400, undefined),
    c('a header name with a space', { raw: 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n' }, 400, undefined),
    c('Content-Length and Transfer-Encoding together (smuggling)', { raw: 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' }, 400, undefined),
    c('a chunk size that is not hex', { raw: 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n' }, 400, undefined),
    c('two Content-Length headers that differ', { raw: 'POST /hooks/sms HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}' }, 400, undefined),
  ];
}

function allCases(): Case[] {
  return [
    ...otlpJsonCases(),
    ...otlpProtobufCases(),
    ...otlpOtherCases(),
    ...hookCases('/hooks/alert-history'),
    ...hookCases('/hooks/sms'),
    ...hookOtherCases(),
    ...metricsCases(),
    ...otherCases(),
  ];
}

/** The message of a JSON error body ({ code, message } or { error }), else the body as text. */
function messageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: a protobuf Status (its message is UTF-8 inside), or plain text
  }
  return text;
}

// ---- the process -----------------------------------------------------------------------------

interface Server extends SpawnedExporter {
  /** the output once it contains `text`: a line logged before a response can reach the pipe after it */
  waitForOutput(text: string): Promise<string>;
  /** the process's heap after two full gcs, and its RSS, read by the preloaded probe */
  memory(): Promise<{ heapUsed: number; rss: number }>;
}

/** Preloaded into the server process: on SIGUSR2, collect garbage and print the heap on stderr. */
const PROBE = `process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc(); const m = process.memoryUsage(); process.stderr.write('MEMORY ' + JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss }) + '\\n'); });\n`;

async function startServer(env: Record<string, string>, dir: string): Promise<Server> {
  const probe = join(dir, 'memory-probe.cjs');
  writeFileSync(probe, PROBE);
  const server = await spawnExporter(env, { nodeArgs: ['--expose-gc', '--require', probe] });
  return Object.assign(server, {
    async waitForOutput(text: string) {
      await server.waitForLine(text);
      return server.text();
    },
    async memory() {
      const from = server.output.length;
      server.child.kill('SIGUSR2');
      const line = await server.waitForLine(/^MEMORY \{.*\}$/, { from, what: 'the memory probe\'s answer' });
      return JSON.parse(line.slice('MEMORY '.length)) as { heapUsed: number; rss: number };
    },
  });
}

// ---- the suite -------------------------------------------------------------------------------

// One exporter process against the Postgres server: the embedded database is one session, which
// this suite would have to share with the process it checks.
const postgres = backends.find((b) => b.kind === 'postgres')!;

describe.skipIf(postgres.skip !== undefined)(`bad input over every HTTP endpoint of a real exporter process [postgres]${postgres.skip ? ` (skipped: ${postgres.skip})` : ''}`, () => {
  let db: TestDatabase;
  let twilio: TwilioSink;
  let server: Server;
  let client: pg.Client;
  let dir: string;
  let casesRun = 0;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    twilio = await startTwilioSink();
    dir = mkdtempSync(join(tmpdir(), 'cc-bad-input-'));
    server = await startServer(
      {
        DATABASE_URL: db.connectionString,
        LOG_LEVEL: 'debug',
        METRICS_AUTH_TOKEN: METRICS_TOKEN,
        HOOKS_AUTH_TOKEN_FILE: secretFile(dir, 'hooks-token', HOOKS_TOKEN),
        OTLP_SERVER_TOKEN_FILE: secretFile(dir, 'server-token', SERVER_TOKEN),
        TWILIO_ACCOUNT_SID: SID,
        TWILIO_AUTH_TOKEN_FILE: secretFile(dir, 'twilio-token', TWILIO_SECRET),
        TWILIO_FROM_NUMBER: '+15005550006',
        ALERT_SMS_NUMBERS: '+15005550001,+15005550002',
        TWILIO_API_BASE_URL: twilio.url,
        SMS_COOLDOWN: '0s', // every SMS delivery of the suite pages; the cooldown's own tests are in hooks/hooks.test.ts
        OTLP_RATE_LIMIT_PER_MINUTE: '0', // every request of the suite comes from one address
        MAINTENANCE_SCHEDULER: 'off',
      },
      dir,
    );
    client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await server?.stop();
    await twilio?.close();
    await db?.stop();
  });

  const counts = async () => {
    const { rows } = await client.query<{ events: string; alerts: string }>(
      'SELECT (SELECT count(*) FROM public.runtime_metrics) AS events, (SELECT count(*) FROM public.alert_history) AS alerts',
    );
    return { events: Number(rows[0]!.events), alerts: Number(rows[0]!.alerts), sms: twilio.requests };
  };

  /** Runs every case once; returns the cases whose answer was not the expected one. */
  async function runTable(cases: Case[]): Promise<string[]> {
    const wrong: string[] = [];
    for (const testCase of cases) {
      const answer = 'raw' in testCase.request ? await sendRaw(server.port, testCase.request.raw) : await send(server.url, testCase.request);
      casesRun++;
      const text = answer.body.toString('utf8');
      const said = testCase.message === undefined || testCase.message.test(messageOf(text));
      if (answer.status !== testCase.status || !said) {
        wrong.push(`${testCase.endpoint} / ${testCase.name}: expected ${testCase.status} ${testCase.message ?? ''}, got ${answer.status} ${text.slice(0, 300)}`);
      }
    }
    return wrong;
  }

  it('answers every malformed, mistyped, deep, huge, mis-encoded or unauthenticated request with its 4xx and a message, and writes nothing', async () => {
    const cases = allCases();
    expect(new Set(cases.map((c) => `${c.endpoint} / ${c.name}`)).size).toBe(cases.length);
    for (const c of cases) {
      expect(c.status, c.name).toBeGreaterThanOrEqual(400);
      expect(c.status, c.name).toBeLessThan(500);
    }
    const before = await counts();
    const wrong = await runTable(cases);
    expect(wrong).toEqual([]);
    expect(await counts()).toEqual(before); // no row, no SMS from any refused request
    expect(server.child.exitCode).toBeNull();
    const byEndpoint = new Map<string, number>();
    for (const c of cases) byEndpoint.set(c.endpoint, (byEndpoint.get(c.endpoint) ?? 0) + 1);
    process.stdout.write(`\nbad input: ${cases.length} cases, every one answered its 4xx\n${[...byEndpoint].map(([e, n]) => `  ${String(n).padStart(3)}  ${e}`).join('\n')}\n`);
    expect(cases.length).toBe(185); // SECURITY.md gives this count
  });

  it('accepts hostile but valid OTLP (NUL, lone surrogates, invalid UTF-8 in strings, huge values, unknown deep fields) storing bounded, clean rows', async () => {
    const hostile = [
      { name: 'NUL and lone surrogates', body: JSON.stringify(goodOtlp('hostile-nul')).replace('/menu', '/me\\u0000nu\\ud800'), session: 'hostile-nul', page: '/menu\ufffd' },
      { name: 'invalid UTF-8 inside a string', body: withByte(JSON.stringify(goodOtlp('hostile-utf8')).replace('/menu', '/m\u0001enu'), 0xff), session: 'hostile-utf8', page: '/m\ufffdenu' },
      { name: 'a 900 KB attribute', body: JSON.stringify(jsonRequest([{ name: 'page_view', attributes: { page: `/${'p'.repeat(900_000)}`, 'session.id': 'hostile-huge' } }])), session: 'hostile-huge', page: undefined },
      { name: 'an unknown field nested 100,000 deep', body: JSON.stringify({ ...goodOtlp('hostile-deep'), x: 0 }).replace('"x":0', `"x":${'['.repeat(100_000)}${']'.repeat(100_000)}`), session: 'hostile-deep', page: '/menu' },
    ];
    for (const h of hostile) {
      const answer = await send(server.url, { path: '/v1/traces', headers: json, body: h.body });
      casesRun++;
      expect(answer.status, `${h.name}: ${answer.body.toString().slice(0, 300)}`).toBe(200);
      const { rows } = await client.query<{ page: string }>(`SELECT event_data ->> 'page' AS page FROM public.runtime_metrics WHERE session_id = $1`, [h.session]);
      expect(rows, h.name).toHaveLength(1);
      if (h.page !== undefined) expect(rows[0]!.page, h.name).toBe(h.page);
      else expect(rows[0]!.page.length, h.name).toBeLessThanOrEqual(4096);
    }
    // protobuf with unknown fields and out-of-range enums: ignored and kept as sent
    const unknown = Buffer.concat([validProtobuf, ld(99, Buffer.from('future'))]);
    expect((await send(server.url, { path: '/v1/traces', headers: protobuf, body: unknown })).status).toBe(200);
    casesRun++;
  });

  it('stores an Alertmanager payload with NUL and lone surrogates in its strings, which Postgres refuses, instead of answering 503 for ever', async () => {
    // Label values are any UTF-8 to Prometheus; JSON may also carry \u0000 and lone surrogates.
    const body = webhook([alert({ fingerprint: 'nul\u0000print', labels: { alertname: 'Nul\u0000Alert', severity: 'critical', path: '/x\ud800' }, annotations: { summary: 'a\u0000b \udfff' } })]);
    const answer = await send(server.url, { path: '/hooks/alert-history', headers: { ...json, ...hookAuth }, body });
    casesRun++;
    expect(answer.status, answer.body.toString()).toBe(200);
    const { rows } = await client.query(`SELECT fingerprint, alertname, labels, annotations FROM public.alert_history WHERE fingerprint = 'nulprint'`);
    expect(rows).toEqual([{ fingerprint: 'nulprint', alertname: 'NulAlert', labels: { alertname: 'NulAlert', severity: 'critical', path: '/x\ufffd' }, annotations: { summary: 'ab \ufffd' } }]);
  });

  it('replays: alert history keeps one row per occurrence, the SMS bridge texts once, OTLP stores a request once', async () => {
    // Alertmanager resends a notification after a timeout or a 5xx: the same occurrence, one row.
    const payload = webhook([alert({ fingerprint: 'replayed000001' })]);
    for (let i = 0; i < 3; i++) {
      const answer = await send(server.url, { path: '/hooks/alert-history', headers: { ...json, ...hookAuth }, body: payload });
      casesRun++;
      expect(answer.status).toBe(200);
    }
    const { rows } = await client.query<{ notifications: number }>(`SELECT notifications FROM public.alert_history WHERE fingerprint = 'replayed000001'`);
    expect(rows).toEqual([{ notifications: 3 }]);

    // The same notification to the SMS bridge: each number texted once, the replays skipped.
    const sms = webhook([alert({ fingerprint: 'replayed000002' })]);
    const texted = twilio.received.length;
    const first = await send(server.url, { path: '/hooks/sms', headers: { ...json, ...hookAuth }, body: sms });
    const again = await send(server.url, { path: '/hooks/sms', headers: { ...json, ...hookAuth }, body: sms });
    casesRun += 2;
    expect(JSON.parse(first.body.toString())).toEqual({ status: 'ok', sent: 2, skipped: 0 });
    expect(JSON.parse(again.body.toString())).toEqual({ status: 'ok', sent: 0, skipped: 2 });
    expect(twilio.received.length - texted).toBe(2);

    // OTLP: a client's replay of a request that was stored is answered 200 and stored no more.
    const otlp = JSON.stringify(goodOtlp('replayed-otlp'));
    for (let i = 0; i < 2; i++) {
      expect((await send(server.url, { path: '/v1/traces', headers: json, body: otlp })).status).toBe(200);
      casesRun++;
    }
    const { rows: events } = await client.query(`SELECT 1 FROM public.runtime_metrics WHERE session_id = 'replayed-otlp'`);
    expect(events).toHaveLength(1);
  });

  it('keeps serving, and its heap after gc returns to its baseline across two more rounds of the table', async () => {
    const cases = allCases();
    const baseline = await server.memory();
    for (let round = 0; round < 2; round++) expect(await runTable(cases)).toEqual([]);
    const after = await server.memory();
    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    process.stdout.write(
      `bad input: heap after gc ${mib(baseline.heapUsed)} before two more rounds (${2 * cases.length} requests), ${mib(after.heapUsed)} after; ` +
        `RSS ${mib(baseline.rss)} -> ${mib(after.rss)}\n`,
    );
    expect(after.heapUsed).toBeLessThan(baseline.heapUsed + HEAP_TOLERANCE);
    expect(server.child.exitCode).toBeNull();
    expect((await send(server.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
    expect((await send(server.url, { method: 'GET', path: '/readyz' })).status).toBe(200);
    const scrape = await send(server.url, { method: 'GET', path: '/metrics', headers: metricsAuth });
    expect(scrape.status).toBe(200);
    expect(scrape.body.toString()).toMatch(/^cc_up 1$/m);
    expect((await send(server.url, { path: '/v1/traces', headers: json, body: JSON.stringify(goodOtlp('after-the-rounds')) })).status).toBe(200);
    process.stdout.write(`bad input: ${casesRun} requests in all (${cases.length} table cases x 3 rounds, plus hostile-but-valid and replay cases)\n`);
  });

  it('never writes a secret to its output: tokens, the Twilio auth token, the database password', async () => {
    // An SMS that Twilio refuses, so the failure path logs too.
    twilio.failNext(6, 500);
    const failed = await send(server.url, { path: '/hooks/sms', headers: { ...json, ...hookAuth }, body: webhook([alert({ fingerprint: 'secret-check' })]) });
    expect(failed.status).toBe(502);
    // The server token, right and near-missed, on the receiver.
    expect((await send(server.url, { path: '/v1/traces', headers: { ...json, authorization: `Bearer ${SERVER_TOKEN}` }, body: JSON.stringify(goodOtlp('trusted')) })).status).toBe(200);
    expect((await send(server.url, { path: '/v1/traces', headers: { ...json, authorization: `Bearer ${SERVER_TOKEN}x` }, body: JSON.stringify(goodOtlp('guess')) })).status).toBe(401);
    const output = await server.waitForOutput('SMS not sent');
    expect(output).toContain('"level":20'); // debug lines were written: there was something to leak into
    const password = decodeURIComponent(new URL(db.connectionString).password);
    const secrets = { METRICS_TOKEN, HOOKS_TOKEN, SERVER_TOKEN, TWILIO_SECRET, ...(password ? { password } : {}) };
    for (const [name, secret] of Object.entries(secrets)) expect(output.includes(secret), `${name} appears in the output`).toBe(false);
    expect(readFileSync(join(dir, 'hooks-token'), 'utf8')).toBe(HOOKS_TOKEN);
  });
});

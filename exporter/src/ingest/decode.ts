// OTLP trace requests, JSON or protobuf, decoded to one in-memory shape: a flat list of spans,
// each with its resource attributes and instrumentation scope. The protobuf side uses this
// project's own schema of the OTLP messages (otlp-proto.ts); both sides go through the
// same walker, which accepts what the OTLP/JSON encoding allows (hex ids, 64-bit integers as
// strings or numbers, enums as integers or names, unknown fields ignored) and refuses wrong
// types for the fields it reads.
import { truncate } from '../text.js';
import { ExportTraceServiceRequest, ExportTraceServiceResponse } from './otlp-proto.js';

/** An attribute value as kept here: nested arrays and key-value lists are not needed and dropped. */
export type AttributeValue = string | number | boolean | readonly (string | number | boolean | null)[] | null;
export type Attributes = ReadonlyMap<string, AttributeValue>;

export interface SpanEvent {
  name: string;
  timeUnixNano: bigint | undefined;
  attributes: Attributes;
}

export const SpanKind = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/** One span of a request, with what it inherits from its resource and scope. */
export interface ReceivedSpan {
  /** lower-case hex (32 digits); undefined when absent, malformed or all zeros (an invalid id) */
  traceId: string | undefined;
  /** lower-case hex (16 digits); undefined when absent, malformed or all zeros */
  spanId: string | undefined;
  name: string;
  /** SpanKind value; unknown values are kept as sent */
  kind: number;
  /** undefined when absent (0) or not an integer */
  startTimeUnixNano: bigint | undefined;
  endTimeUnixNano: bigint | undefined;
  attributes: Attributes;
  events: SpanEvent[];
  /** StatusCode value */
  statusCode: number;
  statusMessage: string;
  scopeName: string;
  resource: Attributes;
}

export interface DecodeLimits {
  /** more spans than this in one request is an error */
  maxSpans: number;
  /** strings longer than this are truncated */
  maxAttributeLength: number;
}

/** The request is not a valid ExportTraceServiceRequest: a 400, the client must not retry. */
export class MalformedRequestError extends Error {
  override name = 'MalformedRequestError';
}

export function decodeJsonRequest(body: Buffer, limits: DecodeLimits): ReceivedSpan[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new MalformedRequestError(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return walkRequest(parsed, limits);
}

export function decodeProtobufRequest(body: Uint8Array, limits: DecodeLimits): ReceivedSpan[] {
  let message: unknown;
  try {
    // Only the fields the sender set (a reflected message answers defaults for the others,
    // an empty stringValue beside the doubleValue that was sent).
    message = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { defaults: false });
  } catch (err) {
    // protobufjs throws Error (bad wire data) or RangeError (absurd nesting); both mean bad input.
    throw new MalformedRequestError(`invalid protobuf ExportTraceServiceRequest: ${err instanceof Error ? err.message : String(err)}`);
  }
  return walkRequest(message, limits);
}

/** An ExportTraceServiceResponse, with partial success when spans were rejected. */
export function encodeProtobufResponse(partialSuccess?: { rejectedSpans: number; errorMessage: string }): Uint8Array {
  return ExportTraceServiceResponse.encode(ExportTraceServiceResponse.create(partialSuccess ? { partialSuccess } : {})).finish();
}

/** A google.rpc.Status (code = 1, message = 2), the body of an OTLP/HTTP error in protobuf. */
export function encodeProtobufStatus(code: number, message: string): Uint8Array {
  const text = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from([0x08]), varint(code), Buffer.from([0x12]), varint(text.length), text]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value >>> 0;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

// ---------------------------------------------------------------------------------------------
// The walker. Field names are the OTLP/JSON (lowerCamelCase) names, which are also the property
// names of the decoded protobuf messages. null means absent, as in the protobuf JSON mapping.

type Obj = Record<string, unknown>;

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function walkRequest(request: unknown, limits: DecodeLimits): ReceivedSpan[] {
  const root = object(request ?? 0, 'the request');
  const resourceSpans = list(root?.resourceSpans, 'resourceSpans');

  // Count first, so an oversized request costs no more than this loop.
  let total = 0;
  for (const [i, rs] of resourceSpans.entries()) {
    for (const [j, ss] of list(object(rs, `resourceSpans[${i}]`)?.scopeSpans, `resourceSpans[${i}].scopeSpans`).entries()) {
      total += list(object(ss, `resourceSpans[${i}].scopeSpans[${j}]`)?.spans, `resourceSpans[${i}].scopeSpans[${j}].spans`).length;
    }
  }
  if (total > limits.maxSpans) {
    throw new MalformedRequestError(`too many spans: ${total} in one request, at most ${limits.maxSpans} accepted`);
  }

  const spans: ReceivedSpan[] = [];
  for (const [i, rsRaw] of resourceSpans.entries()) {
    const rs = object(rsRaw, `resourceSpans[${i}]`) ?? {};
    const resourceObj = object(rs.resource, `resourceSpans[${i}].resource`);
    const resource = attributes(resourceObj?.attributes, `resourceSpans[${i}].resource.attributes`, limits);
    for (const [j, ssRaw] of list(rs.scopeSpans, 'scopeSpans').entries()) {
      const at = `resourceSpans[${i}].scopeSpans[${j}]`;
      const ss = object(ssRaw, at) ?? {};
      const scope = object(ss.scope, `${at}.scope`);
      const scopeName = truncate(string(scope?.name, `${at}.scope.name`), limits.maxAttributeLength);
      for (const [k, spanRaw] of list(ss.spans, 'spans').entries()) {
        spans.push(walkSpan(object(spanRaw, `${at}.spans[${k}]`) ?? {}, `${at}.spans[${k}]`, scopeName, resource, limits));
      }
    }
  }
  return spans;
}

function walkSpan(span: Obj, at: string, scopeName: string, resource: Attributes, limits: DecodeLimits): ReceivedSpan {
  const status = object(span.status, `${at}.status`);
  return {
    traceId: id(span.traceId, 16),
    spanId: id(span.spanId, 8),
    name: truncate(string(span.name, `${at}.name`), limits.maxAttributeLength),
    kind: enumValue(span.kind, SPAN_KINDS, `${at}.kind`),
    startTimeUnixNano: timestamp(int64(span.startTimeUnixNano, `${at}.startTimeUnixNano`)),
    endTimeUnixNano: timestamp(int64(span.endTimeUnixNano, `${at}.endTimeUnixNano`)),
    attributes: attributes(span.attributes, `${at}.attributes`, limits),
    events: list(span.events, `${at}.events`).map((raw, e) => {
      const event = object(raw, `${at}.events[${e}]`) ?? {};
      return {
        name: truncate(string(event.name, `${at}.events[${e}].name`), limits.maxAttributeLength),
        timeUnixNano: timestamp(int64(event.timeUnixNano, `${at}.events[${e}].timeUnixNano`)),
        attributes: attributes(event.attributes, `${at}.events[${e}].attributes`, limits),
      };
    }),
    statusCode: enumValue(status?.code, STATUS_CODES, `${at}.status.code`),
    statusMessage: truncate(string(status?.message, `${at}.status.message`), limits.maxAttributeLength),
    scopeName,
    resource,
  };
}

function attributes(raw: unknown, at: string, limits: DecodeLimits): Attributes {
  const out = new Map<string, AttributeValue>();
  for (const [i, kvRaw] of list(raw, at).entries()) {
    const kv = object(kvRaw, `${at}[${i}]`);
    if (!kv) continue;
    const key = string(kv.key, `${at}[${i}].key`);
    const value = anyValue(kv.value, `${at}[${i}].value`, limits, true);
    if (key !== '' && value !== undefined) out.set(truncate(key, 256), value);
  }
  return out;
}

/** An AnyValue; arrays are kept one level deep (of scalars), key-value lists and bytes dropped. */
function anyValue(raw: unknown, at: string, limits: DecodeLimits, top: boolean): AttributeValue | undefined {
  const value = object(raw, at);
  if (!value) return undefined;
  if (value.stringValue != null) return truncate(string(value.stringValue, `${at}.stringValue`), limits.maxAttributeLength);
  if (value.boolValue != null) {
    if (typeof value.boolValue !== 'boolean') throw malformed(`${at}.boolValue`, 'a boolean');
    return value.boolValue;
  }
  if (value.intValue != null) return Number(int64(value.intValue, `${at}.intValue`));
  if (value.doubleValue != null) return double(value.doubleValue, `${at}.doubleValue`);
  if (value.arrayValue != null) {
    if (!top) return null; // nested arrays are never read; not walked, so depth costs nothing
    const array = object(value.arrayValue, `${at}.arrayValue`);
    const values = list(array?.values, `${at}.arrayValue.values`).slice(0, 64);
    return values.map((v, i) => {
      const item = anyValue(v, `${at}.arrayValue.values[${i}]`, limits, false);
      return item === undefined || Array.isArray(item) ? null : (item as string | number | boolean | null);
    });
  }
  return null; // kvlistValue, bytesValue: not needed by any row
}

function object(value: unknown, at: string): Obj | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) throw malformed(at, 'an object');
  return value as Obj;
}

function list(value: unknown, at: string): unknown[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw malformed(at, 'an array');
  return value;
}

function string(value: unknown, at: string): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') throw malformed(at, 'a string');
  return value;
}

function enumValue(value: unknown, names: Record<string, number>, at: string): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && Object.hasOwn(names, value)) return names[value] ?? 0;
  throw malformed(at, `an enum value (an integer or one of ${Object.keys(names).join(', ')})`);
}

/**
 * A 64-bit integer: a JSON number, a decimal string, or a protobufjs Long. Out-of-range or
 * fractional values are wrong types.
 */
function int64(value: unknown, at: string): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) return BigInt(value);
  if (typeof value === 'object' && typeof (value as Obj).low === 'number' && typeof (value as Obj).high === 'number') {
    const { low, high, unsigned } = value as { low: number; high: number; unsigned?: boolean };
    const bits = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
    return unsigned ? bits : BigInt.asIntN(64, bits);
  }
  throw malformed(at, 'a 64-bit integer (a number or a decimal string)');
}

function double(value: unknown, at: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
  if (value === 'NaN') return NaN;
  throw malformed(at, 'a number');
}

const MAX_FIXED64 = 2n ** 64n - 1n;

/** A fixed64 time in nanoseconds: undefined when absent (0) or out of its range (the span is then rejected, not the request). */
function timestamp(value: bigint): bigint | undefined {
  return value > 0n && value <= MAX_FIXED64 ? value : undefined;
}

/**
 * A trace or span id: hex in OTLP/JSON, bytes in protobuf. Anything else, another length, or all
 * zeros (the spec's invalid id) is undefined: the span is rejected, the request's other spans kept.
 */
function id(value: unknown, bytes: number): string | undefined {
  let hex: string | undefined;
  if (typeof value === 'string' && value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value)) hex = value.toLowerCase();
  else if (value instanceof Uint8Array && value.length === bytes) hex = Buffer.from(value).toString('hex');
  return hex === undefined || /^0+$/.test(hex) ? undefined : hex;
}

function malformed(at: string, expected: string): MalformedRequestError {
  return new MalformedRequestError(`${at} must be ${expected}`);
}

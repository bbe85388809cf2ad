// OTLP test helpers: hand-built OTLP/JSON requests, a raw POST, the runtime_metrics rows as
// the receiver wrote them, and the official OpenTelemetry JS clients pointed at a receiver.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Attributes as OtelAttributes } from '@opentelemetry/api';
import { OTLPTraceExporter as OTLPHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPHttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Queryable } from '../../src/db.js';
import { ExportTraceServiceRequest } from '../../src/ingest/otlp-proto.js';

/**
 * An OTLP/JSON request as protobuf bytes, encoded with the receiver's own schema (otlp-proto.ts;
 * field numbers and types from the OTLP specification). Its hex ids become bytes (protobufjs'
 * fromObject reads bytes as base64); fields the schema does not know are left out. That the
 * schema matches what OpenTelemetry clients send is checked against the real exporter in
 * ingest/decode.test.ts.
 */
export function toProtobuf(request: object): Buffer {
  const text = JSON.stringify(request, (key, value: unknown) =>
    ['traceId', 'spanId', 'parentSpanId'].includes(key) && typeof value === 'string' && /^(?:[0-9a-f]{2})+$/i.test(value) ? Buffer.from(value, 'hex').toString('base64') : value);
  return Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(JSON.parse(text) as object)).finish());
}

export type JsonAnyValue =
  | { stringValue: string }
  | { intValue: string | number }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values: JsonAnyValue[] } };

/** OTLP/JSON attributes from a plain object (strings, numbers, booleans, string arrays). */
export function jsonAttributes(attrs: Record<string, string | number | boolean | string[]>): { key: string; value: JsonAnyValue }[] {
  return Object.entries(attrs).map(([key, v]) => ({
    key,
    value: Array.isArray(v)
      ? { arrayValue: { values: v.map((s) => ({ stringValue: s })) } }
      : typeof v === 'string'
        ? { stringValue: v }
        : typeof v === 'boolean'
          ? { boolValue: v }
          : Number.isInteger(v)
            ? { intValue: v }
            : { doubleValue: v },
  }));
}

export interface JsonSpanInput {
  name?: string;
  kind?: number | string;
  /** milliseconds since the epoch */
  startMs?: number;
  endMs?: number;
  attributes?: Record<string, string | number | boolean | string[]>;
  events?: { name: string; attributes?: Record<string, string | number | boolean> }[];
  status?: { code?: number | string; message?: string };
}

export const T0_MS = Date.UTC(2025, 0, 15, 12, 0, 0);
export const msToNanos = (ms: number): string => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

/**
 * An OTLP/JSON ExportTraceServiceRequest: one resource, one scope. Ids are random, as a real
 * client's are, so two calls never make the same body (the receiver stores a body once).
 */
export function jsonRequest(
  spans: JsonSpanInput[],
  { scope = 'test', resource = {} }: { scope?: string; resource?: Record<string, string | number | boolean> } = {},
): object {
  const traceId = randomBytes(16).toString('hex');
  return {
    resourceSpans: [
      {
        resource: { attributes: jsonAttributes({ 'service.name': 'web', ...resource }) },
        scopeSpans: [
          {
            scope: { name: scope, version: '1.0.0' },
            spans: spans.map((s) => ({
              traceId,
              spanId: randomBytes(8).toString('hex'),
              name: s.name ?? 'span',
              kind: s.kind ?? 1,
              startTimeUnixNano: msToNanos(s.startMs ?? T0_MS),
              endTimeUnixNano: msToNanos(s.endMs ?? (s.startMs ?? T0_MS) + 100),
              attributes: jsonAttributes(s.attributes ?? {}),
              events: (s.events ?? []).map((e) => ({
                timeUnixNano: msToNanos(s.endMs ?? T0_MS),
                name: e.name,
                attributes: jsonAttributes(e.attributes ?? {}),
              })),
              status: s.status ?? {},
            })),
          },
        ],
      },
    ],
  };
}

export interface PostResult {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): unknown;
}

/** POST a body to the receiver; a string or object is sent as JSON unless a content type says otherwise. */
export async function post(
  url: string,
  body: object | string | Uint8Array,
  { headers = {}, gzip = false }: { headers?: Record<string, string>; gzip?: boolean } = {},
): Promise<PostResult> {
  let bytes: Buffer =
    body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  const allHeaders: Record<string, string> = { 'content-type': 'application/json', ...headers };
  if (gzip) {
    bytes = gzipSync(bytes);
    allHeaders['content-encoding'] = 'gzip';
  }
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: allHeaders, body: new Uint8Array(bytes) });
  const buffer = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body: buffer, json: () => JSON.parse(buffer.toString('utf8')) };
}

export interface StoredEvent {
  created_at: string;
  session_id: string | null;
  event_type: string;
  event_data: Record<string, unknown>;
}

/** runtime_metrics rows in insertion order; created_at as ISO 8601 with microseconds, UTC. */
export async function storedEvents(db: Queryable, where = 'true'): Promise<StoredEvent[]> {
  const { rows } = await db.query<StoredEvent>(
    `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
            session_id, event_type, event_data
       FROM public.runtime_metrics WHERE ${where} ORDER BY id`,
  );
  return rows;
}

export type ClientEncoding = 'json' | 'json+gzip' | 'protobuf';

/** A tracer provider exporting through the official OTLP/HTTP exporter to the receiver. */
export function otelClient(url: string, encoding: ClientEncoding, resource: OtelAttributes = {}, { timeoutMillis = 10_000, headers = {} as Record<string, string> } = {}) {
  const config = {
    url: `${url}/v1/traces`,
    timeoutMillis,
    headers,
    ...(encoding === 'json+gzip' ? { compression: 'gzip' as never } : {}),
  };
  const exporter: SpanExporter = encoding === 'protobuf' ? new OTLPHttpProtoExporter(config) : new OTLPHttpJsonExporter(config);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'connect-web', ...resource }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000, maxExportBatchSize: 512 })],
  });
  return { provider, exporter };
}

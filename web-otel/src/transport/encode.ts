// OTLP/HTTP JSON encoding (ids in hex, 64-bit times as decimal strings, kinds and status codes as
// numbers), span by span, so requests can be packed up to a byte budget without encoding twice.
import type { AttributeValue } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { hrTimeToNanos } from '../time.js';
import { collapseIds, scrubUrl, scrubUrlsInText } from '../urls.js';
import type { OutgoingSpan } from './types.js';

/** attributes holding a URL: scrubbed (no query but the allowed parameters, no fragment, ids templated) */
const URL_KEYS = ['url.full', 'http.url', 'location.href', 'document.referrer', 'http.request.header.referer', 'browser.web_vital.attribution.url'];
/** attributes holding a path: ids templated, no query */
const PATH_KEYS = ['url.path', 'http.target', 'page', 'url.template'];
/** attributes holding text that may quote URLs (a message, a stack) */
const TEXT_KEYS = ['exception.message', 'exception.stacktrace'];
/** never sent */
const DROPPED_KEYS = ['url.query', 'url.fragment'];

/** The last scrub before a span leaves, whoever made it (an instrumentation, the app): every URL attribute. */
export function scrubOutgoing(span: OutgoingSpan): OutgoingSpan {
  scrubAttributes(span.attributes);
  for (const event of span.events) scrubAttributes(event.attributes);
  if (span.status.message) span.status.message = scrubUrlsInText(span.status.message);
  return span;
}

function scrubAttributes(attributes: Record<string, AttributeValue>): void {
  for (const key of DROPPED_KEYS) delete attributes[key];
  for (const keys of [URL_KEYS, PATH_KEYS, TEXT_KEYS]) {
    for (const key of keys) {
      const value = attributes[key];
      if (typeof value === 'string') attributes[key] = keys === URL_KEYS ? scrubUrl(value) : keys === PATH_KEYS ? collapseIds(value) : scrubUrlsInText(value);
    }
  }
}

/** A ReadableSpan as a plain, mutable copy. */
export function toOutgoing(span: ReadableSpan): OutgoingSpan {
  const ctx = span.spanContext();
  return {
    name: span.name,
    scope: span.instrumentationScope.name,
    kind: span.kind,
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    startTimeUnixNano: hrTimeToNanos(span.startTime),
    endTimeUnixNano: hrTimeToNanos(span.endTime),
    attributes: { ...span.attributes } as Record<string, AttributeValue>,
    events: span.events.map((e) => ({ name: e.name, timeUnixNano: hrTimeToNanos(e.time), attributes: { ...e.attributes } as Record<string, AttributeValue> })),
    status: { code: span.status.code, message: span.status.message },
  };
}

/** One span as an OTLP/JSON object string. */
export function encodeSpan(s: OutgoingSpan): string {
  return JSON.stringify({
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId,
    name: s.name,
    kind: s.kind + 1, // the API's INTERNAL is 0, OTLP's is 1
    startTimeUnixNano: s.startTimeUnixNano,
    endTimeUnixNano: s.endTimeUnixNano,
    attributes: encodeAttributes(s.attributes),
    events: s.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano, attributes: encodeAttributes(e.attributes) })),
    status: s.status.message ? { code: s.status.code, message: s.status.message } : { code: s.status.code },
  });
}

export function encodeAttributes(attributes: Record<string, AttributeValue | undefined>): { key: string; value: object }[] {
  const out: { key: string; value: object }[] = [];
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined && value !== null) out.push({ key, value: anyValue(value) });
  }
  return out;
}

function anyValue(v: unknown): object {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.filter((x) => x != null).map(anyValue) } };
  return { stringValue: String(v) };
}

/** `{"resourceSpans":[…]}` around already encoded spans, grouped by scope. */
export function encodeRequest(resource: string, scopes: Map<string, string[]>): string {
  const scopeSpans = [...scopes].map(([scope, spans]) => `{"scope":${JSON.stringify({ name: scope })},"spans":[${spans.join(',')}]}`);
  return `{"resourceSpans":[{"resource":${resource},"scopeSpans":[${scopeSpans.join(',')}]}]}`;
}

export function encodeResource(attributes: Record<string, AttributeValue | undefined>): string {
  return JSON.stringify({ attributes: encodeAttributes(attributes) });
}

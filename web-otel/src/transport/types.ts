import type { AttributeValue, SpanKind } from '@opentelemetry/api';

/** A span as it will be sent: a copy the beforeSend hook may change freely. */
export interface OutgoingSpan {
  name: string;
  /** instrumentation scope (`@opentelemetry/instrumentation-fetch`, `@connect-observability/web-otel`) */
  scope: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  /** Unix nanoseconds as decimal strings */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, AttributeValue>;
  events: { name: string; timeUnixNano: string; attributes: Record<string, AttributeValue> }[];
  status: { code: number; message?: string | undefined };
}

/** Return the span (changed or not) to send it, or null to drop it. Must be synchronous. */
export type BeforeSend = (span: OutgoingSpan) => OutgoingSpan | null | undefined | false;

export interface TransportOptions {
  /** where spans are POSTed (OTLP/HTTP JSON) */
  url: string;
  /** the largest request body in bytes; keepalive requests must stay under 64 KB (default 60,000) */
  maxRequestBytes?: number;
  /** redaction hook, called for every span before it is sent */
  beforeSend?: BeforeSend | undefined;
  /** the fetch to send with; default: the page's fetch as it was before any instrumentation patched it */
  fetch?: typeof fetch;
  /** sends a body that must outlive the page (past the keepalive quota); default: navigator.sendBeacon with a JSON Blob */
  sendBeacon?: (url: string, body: string) => boolean;
  /** the longest back-off after 429/503 in ms (default 60,000) */
  maxBackoffMs?: number;
  /** request bodies kept for a retry at most (default 10; older ones are dropped) */
  maxQueuedRequests?: number;
}

// The OTLP/HTTP JSON wire format, as far as this library needs it: spans, attribute values,
// ids, W3C traceparent, timestamps. Pure functions, no I/O.

export const SCOPE = { name: 'connect-observability-edge', version: '0.1.0' } as const;

export const SpanKind = { INTERNAL: 1, SERVER: 2 } as const;
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export type AttributeValue = string | number | boolean;

export interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string;
  doubleValue?: number;
  boolValue?: boolean;
}
export interface OtlpAttribute {
  key: string;
  value: OtlpAnyValue;
}
export interface OtlpEvent {
  timeUnixNano: string;
  name: string;
  attributes: OtlpAttribute[];
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  events: OtlpEvent[];
  status: { code: number; message?: string };
}

/** Longest string attribute value sent; longer ones are cut. */
export const MAX_STRING_LENGTH = 1024;

export function truncate(value: string, max = MAX_STRING_LENGTH): string {
  return value.length <= max ? value : value.slice(0, max);
}

/**
 * OTLP attributes. Integers go as intValue (a decimal string: int64 in JSON), other numbers as
 * doubleValue; `double` lists the keys whose numbers are always doubles (an amount of 12 is
 * still an amount). Undefined, null and non-finite numbers are left out.
 */
export function attributes(values: Record<string, AttributeValue | undefined | null>, double: readonly string[] = []): OtlpAttribute[] {
  const out: OtlpAttribute[] = [];
  for (const [key, v] of Object.entries(values)) {
    if (typeof v === 'string') out.push({ key, value: { stringValue: truncate(v) } });
    else if (typeof v === 'boolean') out.push({ key, value: { boolValue: v } });
    else if (typeof v === 'number' && Number.isFinite(v)) {
      out.push({ key, value: Number.isSafeInteger(v) && !double.includes(key) ? { intValue: String(v) } : { doubleValue: v } });
    }
  }
  return out;
}

function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  for (;;) {
    crypto.getRandomValues(buf);
    if (buf.some((b) => b !== 0)) return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
  }
}

/** 32 lowercase hex digits, never all zeros. */
export const newTraceId = (): string => randomHex(16);
/** 16 lowercase hex digits, never all zeros. */
export const newSpanId = (): string => randomHex(8);

/** The trace id and parent span id of a valid W3C traceparent header; undefined otherwise. */
export function parseTraceparent(header: string | null | undefined): { traceId: string; parentSpanId: string } | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(header.trim());
  if (m === null) return undefined;
  const [, version, traceId, parentSpanId, , rest] = m;
  // Version ff is invalid; version 00 has exactly four fields; later versions may add more.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentSpanId!)) return undefined;
  return { traceId: traceId!, parentSpanId: parentSpanId! };
}

/**
 * A span's clock: the wall time at its start, and the monotonic time then. Times within the span
 * are the start's wall time plus monotonic time elapsed, so that its duration is exact even if the
 * wall clock is stepped, and its dates follow the wall clock even after a sleep or suspension.
 */
export interface Clock {
  wallMs: number;
  monoMs: number;
}

const monotonic = (): number => (typeof globalThis.performance?.now === 'function' ? performance.now() : Date.now());

export const startClock = (): Clock => ({ wallMs: Date.now(), monoMs: monotonic() });

/** Now on `clock`, in unix nanoseconds as a decimal string. */
export function unixNano(clock: Clock): string {
  const ms = clock.wallMs + Math.max(0, monotonic() - clock.monoMs);
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6))).toString();
}

/** The ExportTraceServiceRequest body for one batch. */
export function exportRequest(resource: OtlpAttribute[], spans: OtlpSpan[]): string {
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: SCOPE, spans }] }] });
}

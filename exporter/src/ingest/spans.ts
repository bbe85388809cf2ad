// Spans to runtime_metrics rows: which spans are which kind of event, and the row each one
// becomes, in the shapes the app's own writers use (sql/README.md, "Event rows"). Pure functions.
//
// Classification, first match wins (docs/ingest.md, "OTLP receiver", is the contract the
// browser library follows):
//   performance  attribute browser.web_vital.name (LCP, INP, CLS, FCP, TTFB; FID from old clients)
//   api_latency  scope @opentelemetry/instrumentation-fetch or -xml-http-request, or any span of
//                kind CLIENT with http.request.method (or the older http.method); not the
//                uploads to an OTLP endpoint (…/v1/traces) themselves
//   page_view    the document-load instrumentation's documentLoad span; a span named page_view
//                or route_change; a user-interaction span renamed "Navigation: <path>"
//   user_action  attribute user.action (the action's name); user.action.<key> attributes are its metadata
//   edge_function  a span of kind SERVER with faas.name (an edge function's request)
// and, whatever the kind: every span event named "payment_failure" is a payment_failure row; every span event named "exception" is an error row; a span with
// status ERROR and no exception event is one error row, unless it is an api_latency span
// (its failure is its status). Any other span is accepted and makes no row.
//
// edge_function and payment_failure rows page on-call and feed the business dashboards: they are
// server-only, made only for a request that carries OTLP_SERVER_TOKEN (MappingOptions.trusted).
// From anyone else such a span is rejected whole, never stored.
//
// A row is dated by its span's end, and never later than now: a clock ahead is not the future.
import { StatusCode, SpanKind, type AttributeValue, type Attributes, type ReceivedSpan } from './decode.js';
import { labelValue, MAX_LABEL_INPUT, routeTemplate, scrubUrlText, storable, truncate, type RoutePattern, scrubText } from '../text.js';

export type EventType = 'page_view' | 'api_latency' | 'error' | 'user_action' | 'performance' | 'edge_function' | 'payment_failure';

/**
 * A runtime_metrics row to insert: created_at, session_id, event_type, event_data. A row as read
 * back (with id, tx, and event_type whatever any writer put there) is collectors/events.ts' EventRow.
 */
export interface NewEventRow {
  /** ISO 8601, microseconds */
  createdAt: string;
  sessionId: string | null;
  eventType: EventType;
  eventData: Record<string, unknown>;
}

export interface MappingOptions {
  routePatterns: readonly RoutePattern[];
  /** longest text kept (messages, stacks, URLs) */
  maxAttributeLength: number;
  /** the request carries the server token: server-only rows (edge_function, payment_failure) allowed */
  trusted?: boolean;
}

export interface MappingResult {
  rows: NewEventRow[];
  /** spans refused (not stored), and why, for the partial-success answer */
  rejectedSpans: number;
  rejections: string[];
}

export type SpanClass = 'edge_function' | 'performance' | 'api_latency' | 'page_view' | 'user_action' | 'other';

export const FETCH_SCOPES: readonly string[] = ['@opentelemetry/instrumentation-fetch', '@opentelemetry/instrumentation-xml-http-request'];
export const DOCUMENT_LOAD_SCOPE = '@opentelemetry/instrumentation-document-load';
export const USER_INTERACTION_SCOPE = '@opentelemetry/instrumentation-user-interaction';
export const PAGE_VIEW_SPAN_NAMES: readonly string[] = ['page_view', 'route_change'];
const NAVIGATION_PREFIX = 'Navigation: ';

export const WEB_VITALS: readonly string[] = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB', 'FID'];
const RATINGS: readonly string[] = ['good', 'needs-improvement', 'poor'];

/** exception (and payment_failure) events turned into rows per span, at most; a loop throwing in a span is one story */
export const MAX_EXCEPTIONS_PER_SPAN = 10;
export const PAYMENT_FAILURE_EVENT = 'payment_failure';
/** error.type of an HTTP request web-otel ended at pagehide, still without a response */
export const ABORTED_BY_UNLOAD = 'aborted_by_unload';
export const SERVER_ONLY_REJECTION = 'server-only telemetry (an edge function span or a payment_failure event) without the server token';
/** metadata entries of a user action, at most, and the longest string value kept */
export const MAX_METADATA_ENTRIES = 16;
export const MAX_METADATA_VALUE_LENGTH = 256;
const MAX_SESSION_ID_LENGTH = 128;
const MAX_METHOD_LENGTH = 16;

// Where each value is looked for, first present wins.
const PAGE_KEYS = ['url.template', 'page', 'url.path', 'url.full', 'http.url', 'location.href'];
const URL_KEYS = ['url.full', 'http.url', 'location.href', 'url.path', 'page'];
const HTTP_URL_KEYS = ['url.full', 'http.url'];
const HTTP_METHOD_KEYS = ['http.request.method', 'http.method'];
const HTTP_STATUS_KEYS = ['http.response.status_code', 'http.status_code'];
const REFERRER_KEYS = ['document.referrer', 'referrer', 'http.request.header.referer'];
const USER_AGENT_KEYS = ['user_agent.original', 'http.user_agent'];
const SESSION_KEYS = ['session.id'];

export function classifySpan(span: ReceivedSpan): SpanClass {
  if (span.kind === SpanKind.SERVER && firstText(span.attributes, ['faas.name']) !== undefined) return 'edge_function';
  if (span.attributes.has('browser.web_vital.name')) return 'performance';
  const httpClient = FETCH_SCOPES.includes(span.scopeName) || (span.kind === SpanKind.CLIENT && firstText(span.attributes, HTTP_METHOD_KEYS) !== undefined);
  // The exporter's own uploads, if the page traces them, would feed themselves forever.
  if (httpClient) return isOtlpUpload(firstText(span.attributes, HTTP_URL_KEYS)) ? 'other' : 'api_latency';
  if (span.scopeName === DOCUMENT_LOAD_SCOPE && span.name === 'documentLoad') return 'page_view';
  if (PAGE_VIEW_SPAN_NAMES.includes(span.name)) return 'page_view';
  if (span.scopeName === USER_INTERACTION_SCOPE && span.name.startsWith(NAVIGATION_PREFIX)) return 'page_view';
  if (firstText(span.attributes, ['user.action']) !== undefined) return 'user_action';
  return 'other';
}

const MIN_TIME_NANOS = BigInt(Date.UTC(2000, 0, 1)) * 1_000_000n;
const MAX_AHEAD_MS = 86_400_000;

/** Every span of a request to rows; a span with missing or inverted times, or invalid ids, is rejected whole. */
export function spansToRows(spans: readonly ReceivedSpan[], options: MappingOptions): MappingResult {
  const rows: NewEventRow[] = [];
  const reasons = new Map<string, number>();
  for (const span of spans) {
    const result = spanToRows(span, options);
    if (typeof result === 'string') reasons.set(result, (reasons.get(result) ?? 0) + 1);
    else rows.push(...result);
  }
  const rejections = [...reasons].map(([reason, n]) => `${n} span${n === 1 ? '' : 's'}: ${reason}`);
  return { rows, rejectedSpans: [...reasons.values()].reduce((a, b) => a + b, 0), rejections };
}

function isOtlpUpload(url: string | undefined): boolean {
  return url !== undefined && /^(?:[a-z][a-z0-9+.-]*:\/\/[^/]*)?\/(?:[^?#]*\/)?v1\/traces\/?(?:[?#]|$)/i.test(url);
}

/** One span's rows, or why it is rejected. */
export function spanToRows(span: ReceivedSpan, options: MappingOptions): NewEventRow[] | string {
  if (span.traceId === undefined || span.spanId === undefined) return 'missing or invalid trace or span id';
  const start = span.startTimeUnixNano;
  const end = span.endTimeUnixNano;
  if (start === undefined || end === undefined) return 'missing or invalid start or end time';
  if (end < start) return 'end time before start time';
  // A row is dated by its span's end: one from before 2000 or over a day ahead of this clock is a
  // broken or forged clock, and would sit outside every window (or inside them for years).
  if (start < MIN_TIME_NANOS) return 'start time before the year 2000';
  if (end > BigInt(Date.now() + MAX_AHEAD_MS) * 1_000_000n) return 'end time more than a day ahead of the receiver\'s clock';

  const kind = classifySpan(span);
  const payments = span.events.filter((e) => e.name === PAYMENT_FAILURE_EVENT).slice(0, MAX_EXCEPTIONS_PER_SPAN);
  if ((kind === 'edge_function' || payments.length > 0) && options.trusted !== true) return SERVER_ONLY_REJECTION;
  const now = BigInt(Date.now()) * 1_000_000n;
  const base = { createdAt: isoFromNanos(end < now ? end : now), sessionId: sessionId(span) };
  const rows: NewEventRow[] = [];
  const max = options.maxAttributeLength;
  const dims = resourceDimensions(span);

  switch (kind) {
    case 'performance': {
      const data = performanceData(span, options);
      if (typeof data === 'string') return data;
      rows.push({ ...base, eventType: 'performance', eventData: data });
      break;
    }
    case 'api_latency':
      rows.push({ ...base, eventType: 'api_latency', eventData: apiLatencyData(span, start, end, options) });
      break;
    case 'page_view':
      rows.push({
        ...base,
        eventType: 'page_view',
        eventData: {
          page: pageOf(span, options),
          referrer: nullable(firstText(span.attributes, REFERRER_KEYS), (v) => scrubUrlText(v, max)),
          userAgent: nullable(firstText(span.attributes, USER_AGENT_KEYS) ?? firstText(span.resource, USER_AGENT_KEYS), (v) =>
            storable(truncate(v, max)),
          ),
        },
      });
      break;
    case 'user_action':
      rows.push({
        ...base,
        eventType: 'user_action',
        eventData: { action: label(firstText(span.attributes, ['user.action']) ?? ''), metadata: metadataOf(span.attributes) },
      });
      break;
    case 'edge_function':
      rows.push({ ...base, eventType: 'edge_function', eventData: edgeFunctionData(span, start, end) });
      break;
    case 'other':
      break;
  }
  for (const event of payments) rows.push({ ...base, eventType: 'payment_failure', eventData: paymentFailureData(event.attributes) });

  const exceptions = span.events.filter((e) => e.name === 'exception').slice(0, MAX_EXCEPTIONS_PER_SPAN);
  // An edge function's failure is its status too (the function is counted by status).
  const failed = exceptions.length === 0 && span.statusCode === StatusCode.ERROR && kind !== 'api_latency' && kind !== 'edge_function';
  if (exceptions.length === 0 && !failed) return withDimensions(rows, dims);
  // Only error rows carry the url; scrubbing it is a good part of a span's cost, so spans
  // without an error (nearly all) skip it.
  const url = nullable(firstText(span.attributes, URL_KEYS), (v) => scrubUrlText(v, max));
  for (const event of exceptions) {
    rows.push({ ...base, eventType: 'error', eventData: errorData(event.attributes, url, max) });
  }
  if (failed) {
    const type = firstText(span.attributes, ['exception.type', 'error.type']) ?? 'span_error';
    const message = firstText(span.attributes, ['exception.message']) ?? (span.statusMessage || span.name);
    const stack = firstText(span.attributes, ['exception.stacktrace']);
    rows.push({
      ...base,
      eventType: 'error',
      eventData: errorData(new Map([['exception.type', type], ['exception.message', message], ['exception.stacktrace', stack ?? null]]), url, max),
    });
  }
  return withDimensions(rows, dims);
}

/**
 * Which service, deployment environment and release a span comes from (its resource's
 * service.name, deployment.environment.name, or the older deployment.environment, and
 * service.version), as label-like values; absent ones are left out of the rows.
 */
export function resourceDimensions(span: ReceivedSpan): Record<string, string> {
  const dims: Record<string, string> = {};
  const pick = (key: string, names: readonly string[]) => {
    const value = firstText(span.resource, names);
    if (value !== undefined) dims[key] = label(value);
  };
  pick('service', ['service.name']);
  pick('env', ['deployment.environment.name', 'deployment.environment']);
  pick('release', ['service.version']);
  return dims;
}

function withDimensions(rows: NewEventRow[], dims: Record<string, string>): NewEventRow[] {
  for (const row of rows) Object.assign(row.eventData, dims);
  return rows;
}

function performanceData(span: ReceivedSpan, options: MappingOptions): Record<string, unknown> | string {
  const name = firstText(span.attributes, ['browser.web_vital.name'])?.toUpperCase();
  if (name === undefined || !WEB_VITALS.includes(name)) return 'browser.web_vital.name is not one of LCP, INP, CLS, FCP, TTFB';
  const value = span.attributes.get('browser.web_vital.value');
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return 'browser.web_vital.value is not a non-negative number';
  const rating = firstText(span.attributes, ['browser.web_vital.rating']);
  const attribution = attributionOf(span.attributes);
  return {
    metric: name,
    value,
    rating: rating !== undefined && RATINGS.includes(rating) ? rating : null,
    page: pageOf(span, options),
    ...(attribution ? { attribution } : {}),
  };
}

/** Longest attribution text kept: a CSS selector, or a resource URL. */
export const MAX_ATTRIBUTION_LENGTH = 200;

/**
 * What a web vital is attributed to (web-otel's attribution build): the element (LCP's element,
 * INP's target, CLS's largest shift), the resource URL, the interaction type and the load state;
 * cut short and scrubbed again here. Rows only: never a Prometheus label.
 */
function attributionOf(attributes: Attributes): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const element = firstText(attributes, ['browser.web_vital.attribution.element']);
  if (element !== undefined) out.element = scrubText(element, MAX_ATTRIBUTION_LENGTH);
  const url = firstText(attributes, ['browser.web_vital.attribution.url']);
  if (url !== undefined) out.url = scrubUrlText(url, MAX_ATTRIBUTION_LENGTH);
  const interaction = firstText(attributes, ['browser.web_vital.attribution.interaction_type']);
  if (interaction !== undefined) out.interaction_type = label(truncate(interaction, 32));
  const loadState = firstText(attributes, ['browser.web_vital.attribution.load_state']);
  if (loadState !== undefined) out.load_state = label(truncate(loadState, 32));
  return Object.keys(out).length > 0 ? out : undefined;
}

function apiLatencyData(span: ReceivedSpan, start: bigint, end: bigint, options: MappingOptions): Record<string, unknown> {
  const status = firstNumber(span.attributes, HTTP_STATUS_KEYS);
  const method = firstText(span.attributes, HTTP_METHOD_KEYS);
  const answered = status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599;
  return {
    endpoint: route(firstText(span.attributes, HTTP_URL_KEYS), options),
    latency_ms: Number(end - start) / 1e6,
    // No response status: the request never got an answer (network failure, CORS, abort).
    status: answered ? status : 0,
    method: method === undefined ? null : storable(truncate(method, MAX_METHOD_LENGTH).toUpperCase()),
    // Still pending when its page closed (web-otel ends it at pagehide): not a failure, and its
    // duration is how long it had waited so far.
    ...(!answered && firstText(span.attributes, ['error.type']) === ABORTED_BY_UNLOAD ? { aborted: true } : {}),
  };
}

function edgeFunctionData(span: ReceivedSpan, start: bigint, end: bigint): Record<string, unknown> {
  const status = firstNumber(span.attributes, HTTP_STATUS_KEYS);
  const httpStatus = status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599 ? status : null;
  const failed = span.statusCode === StatusCode.ERROR || (httpStatus !== null && httpStatus >= 500);
  const method = firstText(span.attributes, HTTP_METHOD_KEYS);
  return {
    function_name: label(firstText(span.attributes, ['faas.name']) ?? ''),
    execution_time_ms: Number(end - start) / 1e6,
    status: failed ? 'error' : 'success',
    http_status: httpStatus,
    method: method === undefined ? null : storable(truncate(method, MAX_METHOD_LENGTH).toUpperCase()),
  };
}

/** A payment_failure span event's attributes, as the app's own rows name them. */
function paymentFailureData(attributes: Attributes): Record<string, unknown> {
  const amount = attributes.get('payment.amount');
  const orderId = firstScalar(attributes, ['order.id']);
  return {
    provider: label(firstText(attributes, ['payment.provider']) ?? 'unknown'),
    reason: label(firstText(attributes, ['payment.failure_reason']) ?? 'unknown'),
    order_id: orderId === undefined ? null : storable(truncate(String(orderId), MAX_SESSION_ID_LENGTH)),
    amount: typeof amount === 'number' && Number.isFinite(amount) ? amount : typeof amount === 'string' && /^\d{1,12}(\.\d{1,4})?$/.test(amount) ? Number(amount) : null,
  };
}

function errorData(attributes: Attributes, url: string | null, max: number): Record<string, unknown> {
  const type = firstText(attributes, ['exception.type']);
  const message = firstText(attributes, ['exception.message']);
  const stack = firstText(attributes, ['exception.stacktrace']);
  return {
    error_type: label(type ?? ''),
    message: nullable(message, (v) => scrubText(v, max)),
    stack: nullable(stack, (v) => scrubText(v, max)),
    url,
  };
}

/** user.action.<key> attributes, scalars only, strings cut short and redacted. */
function metadataOf(attributes: Attributes): Record<string, string | number | boolean> {
  const metadata: Record<string, string | number | boolean> = {};
  let n = 0;
  for (const [key, value] of attributes) {
    if (!key.startsWith('user.action.') || n >= MAX_METADATA_ENTRIES) continue;
    const name = storable(truncate(key.slice('user.action.'.length), 64));
    if (name === '' || name === '__proto__') continue;
    if (typeof value === 'string') metadata[name] = scrubText(value, MAX_METADATA_VALUE_LENGTH);
    else if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) metadata[name] = value;
    else continue;
    n++;
  }
  return metadata;
}

function pageOf(span: ReceivedSpan, options: MappingOptions): string {
  const explicit = firstText(span.attributes, PAGE_KEYS);
  if (explicit !== undefined) return route(explicit, options);
  if (span.name.startsWith(NAVIGATION_PREFIX)) return route(span.name.slice(NAVIGATION_PREFIX.length), options);
  return 'unknown';
}

/** The route template of a URL, path or endpoint name. */
function route(raw: string | undefined, options: MappingOptions): string {
  if (raw === undefined) return 'unknown';
  // routeTemplate redacts names that are not paths in full: keep those short (labels are 120 at most).
  const isPath = raw.startsWith('/') || /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  return storable(routeTemplate(truncate(raw, isPath ? options.maxAttributeLength : MAX_LABEL_INPUT), options.routePatterns));
}

/** A label-like value (error type, action): short, redacted, printable. */
const label = (raw: string): string => labelValue(raw);

function sessionId(span: ReceivedSpan): string | null {
  const raw = firstScalar(span.attributes, SESSION_KEYS) ?? firstScalar(span.resource, SESSION_KEYS);
  if (raw === undefined) return null;
  // eslint-disable-next-line no-control-regex
  const id = storable(truncate(String(raw), MAX_SESSION_ID_LENGTH)).replace(/[\u0000-\u001f\u007f]/g, '');
  return id === '' ? null : id;
}

function firstScalar(attributes: Attributes, keys: readonly string[]): string | number | undefined {
  for (const key of keys) {
    const value = attributes.get(key);
    if ((typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value))) return value;
  }
  return undefined;
}

/** The first non-empty string among the keys (the first element of a string array counts). */
function firstText(attributes: Attributes, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value: AttributeValue | undefined = attributes.get(key);
    const text = Array.isArray(value) ? value[0] : value;
    if (typeof text === 'string' && text !== '') return text;
  }
  return undefined;
}

function firstNumber(attributes: Attributes, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const value = attributes.get(key);
    if (typeof value === 'number') return value;
    if (typeof value === 'string' && /^\d{1,3}$/.test(value)) return Number(value);
  }
  return undefined;
}

function nullable<T>(value: string | undefined, fn: (v: string) => T): T | null {
  return value === undefined ? null : fn(value);
}

/** Unix nanoseconds to an ISO 8601 timestamp with microseconds, as Postgres keeps them. */
export function isoFromNanos(nanos: bigint): string {
  const ms = nanos / 1_000_000n;
  const micros = (nanos / 1000n) % 1000n;
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return 'infinity';
  return `${date.toISOString().slice(0, -1)}${micros.toString().padStart(3, '0')}Z`;
}

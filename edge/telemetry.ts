// The public API: withTelemetry (one SERVER span per request), recordPaymentFailure (a span event
// on the current request's span), configure, flush, stats. Every entry point catches its own
// errors: telemetry never throws into the function it observes, and never delays its response.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Exporter, type ExportSettings } from './exporter.ts';
import {
  attributes,
  newSpanId,
  newTraceId,
  type OtlpEvent,
  type OtlpSpan,
  parseTraceparent,
  SpanKind,
  startClock,
  StatusCode,
  truncate,
  unixNano,
  type Clock,
} from './otlp.ts';

export interface TelemetryOptions {
  /** the full traces URL; default OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces */
  endpoint?: string;
  /** the exporter's server token, sent as a bearer token; default OTLP_SERVER_TOKEN */
  token?: string;
  /** service.name; default OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES, else edge-functions */
  serviceName?: string;
  /** service.version; default from OTEL_RESOURCE_ATTRIBUTES */
  serviceVersion?: string;
  /** deployment.environment.name; default from OTEL_RESOURCE_ATTRIBUTES */
  environment?: string;
  /** each export request's timeout, ms; default OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT, else 10,000 */
  timeoutMs?: number;
  /** spans waiting to be sent, at most (default 2,048) */
  maxQueueSize?: number;
  /** spans per export request, at most (default and maximum 512) */
  maxBatchSize?: number;
  /** tries per batch, the first included (default 5) */
  maxAttempts?: number;
  /** first retry delay without Retry-After, ms; doubled on each retry, with jitter (default 1,000) */
  initialRetryDelayMs?: number;
  /** longest wait before a retry, Retry-After included, ms (default 30,000) */
  maxRetryDelayMs?: number;
}

export interface PaymentFailure {
  provider?: string;
  reason?: string;
  orderId?: string | number;
  amount?: number;
}

const PREFIX = '[connect-observability-edge]';
/** payment_failure events per span, at most (as many as the exporter reads); more go in child spans */
const MAX_PAYMENT_EVENTS_PER_SPAN = 10;
const MAX_WARNINGS = 50;

interface ActiveSpan {
  span: OtlpSpan;
  clock: Clock;
  /** has a payment_failure event */
  payment: boolean;
  ended: boolean;
}

const storage = new AsyncLocalStorage<ActiveSpan>();
let options: TelemetryOptions = {};
/** undefined: not resolved yet; null: not configured (warned) */
let resolved: ExportSettings | null | undefined;
let warned = new Set<string>();
const exporter = new Exporter(() => resolved ?? undefined, warnOnce);
let keptAlive: Promise<void> | undefined;

/**
 * Sets options over the environment (an empty string unsets a value) and forgets past warnings.
 * Optional: without it everything comes from the environment. Call it before serving.
 */
export function configure(next: TelemetryOptions = {}): void {
  safely(() => {
    options = { ...next };
    warned = new Set();
    resolved = undefined;
    settings();
  });
}

/** Wraps a Deno.serve handler: one SERVER span per request. Errors of the handler are recorded and rethrown as they are. */
export function withTelemetry<I = unknown>(
  handler: (req: Request, info: I) => Response | Promise<Response>,
  spanOptions: { name: string },
): (req: Request, info?: I) => Promise<Response> {
  const name = safely(() => (typeof spanOptions?.name === 'string' && spanOptions.name !== '' ? truncate(spanOptions.name, 128) : undefined)) ??
    'edge-function';
  return async (req: Request, info?: I): Promise<Response> => {
    const active = safely(() => startRequestSpan(name, req));
    if (active === undefined) return await handler(req, info as I);
    let response: Response;
    try {
      response = await storage.run(active, () => handler(req, info as I));
    } catch (err) {
      safely(() => endRequestSpan(active, 500, err));
      throw err;
    }
    safely(() => endRequestSpan(active, response.status));
    return response;
  };
}

/**
 * A payment_failure event on the current request's span; outside a request (or after its
 * response), on a short span of its own. Missing provider or reason: "unknown".
 */
export function recordPaymentFailure(failure: PaymentFailure): void {
  safely(() => {
    const s = settings();
    if (s === undefined) return;
    const f: PaymentFailure = typeof failure === 'object' && failure !== null ? failure : {};
    const orderId = typeof f.orderId === 'number' && Number.isFinite(f.orderId) ? String(f.orderId) : f.orderId;
    const active = storage.getStore();
    const inRequest = active !== undefined && !active.ended && countPayments(active.span) < MAX_PAYMENT_EVENTS_PER_SPAN;
    const clock = inRequest ? active.clock : startClock();
    const event: OtlpEvent = {
      timeUnixNano: unixNano(clock),
      name: 'payment_failure',
      attributes: attributes(
        {
          'payment.provider': label(f.provider),
          'payment.failure_reason': label(f.reason),
          'order.id': typeof orderId === 'string' && orderId !== '' ? truncate(orderId, 128) : undefined,
          'payment.amount': typeof f.amount === 'number' ? f.amount : undefined,
        },
        ['payment.amount'],
      ),
    };
    if (inRequest) {
      active.span.events.push(event);
      active.payment = true;
      return;
    }
    const parent = active?.span;
    const span = newSpan('payment_failure', SpanKind.INTERNAL, event.timeUnixNano, parent && { traceId: parent.traceId, parentSpanId: parent.spanId });
    span.events.push(event);
    submit(span, true, s);
  });
}

/** Sends what is queued; resolves when it is sent or given up (never rejects). */
export async function flush(): Promise<void> {
  try {
    await exporter.flush();
  } catch {
    // never
  }
}

/** Counters since start: spans waiting, sent (accepted with a 2xx), dropped (queue full, refused, given up). */
export function stats(): { queued: number; exported: number; dropped: number } {
  return { queued: exporter.queued, ...exporter.counts };
}

function startRequestSpan(name: string, req: Request): ActiveSpan | undefined {
  if (settings() === undefined) return undefined;
  const clock = startClock();
  const span = newSpan(name, SpanKind.SERVER, unixNano(clock), parseTraceparent(req.headers.get('traceparent')));
  span.attributes = attributes({ 'faas.name': name, 'faas.trigger': 'http', 'http.request.method': truncate(req.method, 16) });
  return { span, clock, payment: false, ended: false };
}

function endRequestSpan(active: ActiveSpan, status: number | undefined, err?: unknown): void {
  if (active.ended) return;
  active.ended = true;
  const { span } = active;
  span.endTimeUnixNano = unixNano(active.clock);
  if (typeof status === 'number') span.attributes.push(...attributes({ 'http.response.status_code': status }));
  if (err !== undefined) {
    const exception = describeError(err);
    span.status = { code: StatusCode.ERROR, message: exception['exception.message'] };
    span.events.push({ timeUnixNano: span.endTimeUnixNano, name: 'exception', attributes: attributes(exception) });
  } else if (typeof status === 'number' && status >= 500) {
    // A server span's 5xx is an error (OTel HTTP semantic conventions).
    span.status = { code: StatusCode.ERROR };
  }
  const s = settings();
  if (s !== undefined) submit(span, active.payment, s);
}

function newSpan(name: string, kind: number, now: string, parent: { traceId: string; parentSpanId: string } | undefined): OtlpSpan {
  return {
    traceId: parent?.traceId ?? newTraceId(),
    spanId: newSpanId(),
    ...(parent ? { parentSpanId: parent.parentSpanId } : {}),
    name,
    kind,
    startTimeUnixNano: now,
    endTimeUnixNano: now,
    attributes: [],
    events: [],
    status: { code: StatusCode.UNSET },
  };
}

/** Queues a finished span and keeps a Supabase worker alive until its export is done. */
function submit(span: OtlpSpan, payment: boolean, s: ExportSettings): void {
  const done = exporter.enqueue(span, payment, s.maxQueueSize);
  if (done === keptAlive) return;
  keptAlive = done;
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil?: (p: Promise<unknown>) => unknown } }).EdgeRuntime;
  if (typeof runtime?.waitUntil === 'function') runtime.waitUntil(done);
}

const countPayments = (span: OtlpSpan): number => span.events.filter((e) => e.name === 'payment_failure').length;

function label(value: unknown): string {
  return typeof value === 'string' && value.trim() !== '' ? truncate(value.trim(), 128) : 'unknown';
}

function describeError(err: unknown): { 'exception.type': string; 'exception.message': string; 'exception.stacktrace'?: string } {
  if (err instanceof Error) {
    return {
      'exception.type': err.name || err.constructor?.name || 'Error',
      'exception.message': truncate(err.message),
      ...(typeof err.stack === 'string' ? { 'exception.stacktrace': truncate(err.stack) } : {}),
    };
  }
  let message = 'unknown';
  try {
    message = truncate(String(err));
  } catch {
    // a value that cannot be turned into text
  }
  return { 'exception.type': typeof err, 'exception.message': message };
}

/** The export settings, resolved once from the options and the environment; undefined (and a warning) when not configured. */
function settings(): ExportSettings | undefined {
  if (resolved === undefined) resolved = resolve() ?? null;
  return resolved ?? undefined;
}

function resolve(): ExportSettings | undefined {
  const base = env('OTEL_EXPORTER_OTLP_ENDPOINT');
  const rawUrl = options.endpoint ?? env('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  const token = options.token ?? env('OTLP_SERVER_TOKEN');
  const missing: string[] = [];
  if (!rawUrl) missing.push('OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)');
  if (!token) missing.push('OTLP_SERVER_TOKEN');
  if (missing.length > 0) {
    warnOnce('unconfigured', `telemetry is off: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(rawUrl!);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    // The value itself is not printed: it may hold credentials.
    warnOnce('unconfigured', 'telemetry is off: the OTLP endpoint is not an http(s) URL');
    return undefined;
  }
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    warnOnce('plaintext', `the OTLP endpoint ${url.origin} is plain http: the server token travels unencrypted`);
  }

  const resource: Record<string, string> = {};
  for (const part of (env('OTEL_RESOURCE_ATTRIBUTES') ?? '').split(',')) {
    const eq = part.indexOf('=');
    const key = decode(part.slice(0, eq).trim());
    if (eq > 0 && key !== '') resource[key] = decode(part.slice(eq + 1).trim());
  }
  const region = env('SB_REGION');
  if (region && resource['cloud.region'] === undefined) resource['cloud.region'] = region;
  resource['service.name'] = options.serviceName || env('OTEL_SERVICE_NAME') || resource['service.name'] || 'edge-functions';
  if (options.serviceVersion) resource['service.version'] = options.serviceVersion;
  if (options.environment) resource['deployment.environment.name'] = options.environment;

  return {
    url: url.href,
    token: token!,
    resource: attributes(resource),
    timeoutMs: positive(options.timeoutMs ?? Number(env('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ?? env('OTEL_EXPORTER_OTLP_TIMEOUT')), 10_000),
    maxQueueSize: positive(options.maxQueueSize, 2048),
    maxBatchSize: Math.min(positive(options.maxBatchSize, 512), 512),
    maxAttempts: positive(options.maxAttempts, 5),
    initialRetryDelayMs: positive(options.initialRetryDelayMs, 1000),
    maxRetryDelayMs: positive(options.maxRetryDelayMs, 30_000),
  };
}

const positive = (value: number | undefined, fallback: number): number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

interface DenoLike {
  env?: { get(name: string): string | undefined };
  permissions?: { querySync?(descriptor: { name: 'env'; variable: string }): { state: string } };
}

/** An environment variable; undefined when unset, empty or not readable (Deno without --allow-env). */
function env(name: string): string | undefined {
  try {
    const g = globalThis as { Deno?: DenoLike; process?: { env?: Record<string, string | undefined> } };
    let value: string | undefined;
    if (g.Deno !== undefined) {
      // Asking first avoids an interactive permission prompt where env access was not granted.
      const state = g.Deno.permissions?.querySync?.({ name: 'env', variable: name }).state;
      if (state !== 'prompt') value = g.Deno.env?.get(name);
    } else {
      value = g.process?.env?.[name];
    }
    return value === '' ? undefined : value;
  } catch {
    return undefined;
  }
}

function warnOnce(key: string, message: string): void {
  if (warned.has(key) || warned.size >= MAX_WARNINGS) return;
  warned.add(key);
  try {
    console.warn(`${PREFIX} ${message}`);
  } catch {
    // no console
  }
}

function safely<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    warnOnce('internal', `internal error (telemetry skipped): ${err instanceof Error ? err.message : 'unknown'}`);
    return undefined;
  }
}

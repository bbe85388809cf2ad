// The load generator of bench:events part (b), run as its own process so that it does not share
// an event loop with the exporter it measures:
//   node exporter/dist/bench/ingest-load.js <url> <seconds> <concurrency> <spansPerRequest> [warmupSeconds] [requestsPerSecond]
// It pre-builds a few OTLP/JSON requests shaped like a browser's exports, keeps <concurrency>
// requests in flight over keep-alive connections to <url>/v1/traces (loopback only) for
// <warmupSeconds> (default 3) and then <seconds>, and prints one JSON line: a LoadResult.
// With <requestsPerSecond> (npm run load), requests start on a fixed schedule at that rate (late
// ones at once, to catch up) rather than as fast as the exporter answers; <concurrency> still
// bounds what is in flight. Latency is each request's own, from its send to its answer.
// buildRequest() is also what the bench uses to learn how many rows a request makes.
import { randomBytes } from 'node:crypto';
import { Agent, request, type IncomingMessage } from 'node:http';
import { pathToFileURL } from 'node:url';

/** distinct request bodies sent in turn: same shape (so the same rows), different sessions and values */
export const REQUEST_VARIANTS = 4;
/**
 * A resource attribute whose value the generator overwrites in every request it sends: real
 * clients never send the same bytes twice, and the receiver stores a body it has seen only once.
 */
const REQUEST_KEY = 'bench.request';
const REQUEST_PLACEHOLDER = '0'.repeat(16);
export const DEFAULT_WARMUP_SECONDS = 3;
/** a request still unanswered this long after it was sent is counted as a failure */
const REQUEST_TIMEOUT_MS = 30_000;
/** after the end, in-flight requests get this long to finish before the process gives up on them */
const DRAIN_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// The requests: what the OpenTelemetry JS web SDK's OTLP/HTTP JSON exporter sends for a page of
// the ordering app. One "page" is 20 spans in a fixed order (a request cycles through it):
//   documentLoad, documentFetch, resourceFetch   (document-load instrumentation: 1 page_view row)
//   12 fetch CLIENT spans, with resource-timing events (12 api_latency rows; one of them a network failure)
//   3 web vitals                                  (3 performance rows)
//   1 click with user.action                      (1 user_action row)
//   1 render span with an exception event         (1 error row)
// so every request of a given size makes the same number of rows, whatever its variant.

type AnyValue = { stringValue: string } | { intValue: number } | { doubleValue: number } | { boolValue: boolean };
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: { timeUnixNano: string; name: string; attributes: KeyValue[]; droppedAttributesCount: number }[];
  droppedEventsCount: number;
  status: { code: number; message?: string };
  links: never[];
  droppedLinksCount: number;
  flags: number;
}

const FETCH_SCOPE = '@opentelemetry/instrumentation-fetch';
const DOCUMENT_LOAD_SCOPE = '@opentelemetry/instrumentation-document-load';
const USER_INTERACTION_SCOPE = '@opentelemetry/instrumentation-user-interaction';
const WEB_OTEL_SCOPE = '@connect-observability/web-otel';
const SPANS_PER_PAGE = 20;

const API = 'https://xyzcompany.supabase.co';
const FETCHES: { method: string; path: string }[] = [
  { method: 'GET', path: '/rest/v1/menu_items?select=*&store_id=eq.12' },
  { method: 'GET', path: '/rest/v1/menu_categories?select=*' },
  { method: 'GET', path: '/rest/v1/stores?select=*&id=eq.12' },
  { method: 'GET', path: '/rest/v1/store_hours?select=*&store_id=eq.12' },
  { method: 'POST', path: '/rest/v1/rpc/get_menu' },
  { method: 'GET', path: '/auth/v1/user' },
  { method: 'GET', path: '/rest/v1/carts?select=*,cart_items(*)&session_id=eq.{session}' },
  { method: 'POST', path: '/rest/v1/cart_items' },
  { method: 'PATCH', path: '/rest/v1/cart_items?id=eq.{n}' },
  { method: 'POST', path: '/rest/v1/rpc/apply_coupon' },
  { method: 'POST', path: '/functions/v1/create-checkout' },
  { method: 'GET', path: '/rest/v1/orders/{n}?select=*,order_items(*)' },
];
const STATUSES = [200, 200, 200, 200, 201, 200, 200, 201, 204, 404, 200, 500];
const PAGES = ['/menu', '/menu/pizza', '/cart', '/checkout', '/orders/1234'];
const VITALS: { name: string; value: (r: number) => number; rating: string }[] = [
  { name: 'LCP', value: (r) => 1200 + Math.round(r * 2400), rating: 'good' },
  { name: 'FCP', value: (r) => 600 + Math.round(r * 1500), rating: 'good' },
  { name: 'TTFB', value: (r) => 80 + Math.round(r * 900), rating: 'needs-improvement' },
  { name: 'CLS', value: (r) => Math.round(r * 300) / 1000, rating: 'good' },
  { name: 'INP', value: (r) => 40 + Math.round(r * 400), rating: 'poor' },
];
const USER_AGENT = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const RESOURCE_TIMING_EVENTS = [
  'fetchStart', 'domainLookupStart', 'domainLookupEnd', 'connectStart', 'secureConnectionStart',
  'connectEnd', 'requestStart', 'responseStart', 'responseEnd',
];
const DOCUMENT_EVENTS = [
  'fetchStart', 'unloadEventStart', 'unloadEventEnd', 'domInteractive', 'domContentLoadedEventStart',
  'domContentLoadedEventEnd', 'domComplete', 'loadEventStart', 'loadEventEnd', 'firstPaint', 'firstContentfulPaint',
];

function attrs(values: Record<string, string | number | boolean>): KeyValue[] {
  return Object.entries(values).map(([key, v]) => ({
    key,
    value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: v } : { doubleValue: v },
  }));
}

/** Deterministic pseudo-random numbers in [0, 1), so a variant is the same in every process. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const hex = (rnd: () => number, chars: number) => Array.from({ length: chars }, () => Math.floor(rnd() * 16).toString(16)).join('');
const nanos = (ms: number) => `${Math.round(ms * 1000)}000`;

/**
 * An OTLP/JSON ExportTraceServiceRequest of `spans` spans, variant `variant`, its spans ending
 * before `nowMs`. Every variant of one size maps to the same rows (kinds and counts), with
 * other sessions, ids, URLs and values.
 */
export function buildRequest(spans: number, variant: number, nowMs: number = Date.now()): object {
  const rnd = random(0x9e3779b1 + variant * 7919);
  const session = `bench-${variant}-${hex(rnd, 12)}`;
  const byScope = new Map<string, JsonSpan[]>();
  const push = (scope: string, span: JsonSpan) => {
    const list = byScope.get(scope) ?? [];
    list.push(span);
    byScope.set(scope, list);
  };
  let traceId = hex(rnd, 32);
  let pageSpanId = hex(rnd, 16);
  let page = PAGES[0]!;
  // Spans are laid out over the last minute, in page order.
  const start0 = nowMs - 60_000;
  for (let i = 0; i < spans; i++) {
    const slot = i % SPANS_PER_PAGE;
    const pageNo = Math.floor(i / SPANS_PER_PAGE);
    const t = start0 + (i * 50_000) / Math.max(1, spans);
    const span = (name: string, kind: number, durationMs: number, attributes: Record<string, string | number | boolean>): JsonSpan => ({
      traceId,
      spanId: hex(rnd, 16),
      ...(slot === 0 ? {} : { parentSpanId: pageSpanId }),
      name,
      kind,
      startTimeUnixNano: nanos(t),
      endTimeUnixNano: nanos(t + durationMs),
      attributes: attrs(attributes),
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      status: { code: 0 },
      links: [],
      droppedLinksCount: 0,
      flags: 1,
    });
    const timingEvents = (names: string[], from: number, durationMs: number) =>
      names.map((name, k) => ({ timeUnixNano: nanos(from + (k * durationMs) / names.length), name, attributes: [], droppedAttributesCount: 0 }));

    if (slot === 0) {
      traceId = hex(rnd, 32);
      page = PAGES[(variant + pageNo) % PAGES.length]!;
      const s = span('documentLoad', 1, 900 + Math.round(rnd() * 1500), {
        'http.url': `https://order.example.com${page}?utm_source=newsletter`,
        'http.user_agent': USER_AGENT,
        'document.referrer': 'https://www.google.com/',
      });
      pageSpanId = s.spanId;
      s.events = timingEvents(DOCUMENT_EVENTS, t, 900);
      push(DOCUMENT_LOAD_SCOPE, s);
    } else if (slot === 1 || slot === 2) {
      const s = span(slot === 1 ? 'documentFetch' : 'resourceFetch', 1, 120 + Math.round(rnd() * 300), {
        'http.url': slot === 1 ? `https://order.example.com${page}` : `https://order.example.com/assets/index-${hex(rnd, 8)}.js`,
        'http.response_content_length': 20_000 + Math.round(rnd() * 200_000),
      });
      s.events = timingEvents(RESOURCE_TIMING_EVENTS, t, 120);
      push(DOCUMENT_LOAD_SCOPE, s);
    } else if (slot < 15) {
      const f = FETCHES[(slot - 3 + variant) % FETCHES.length]!;
      const status = STATUSES[(slot - 3 + pageNo) % STATUSES.length]!;
      const networkFailure = slot === 14; // no answer: no status code, status ERROR
      const url = `${API}${f.path.replace('{session}', session).replace('{n}', String(1000 + Math.floor(rnd() * 9000)))}`;
      const duration = 20 + Math.round(rnd() * rnd() * 1500);
      const s = span(`HTTP ${f.method}`, 3, duration, {
        component: 'fetch',
        'http.request.method': f.method,
        'url.full': url,
        'server.address': 'xyzcompany.supabase.co',
        'server.port': 443,
        ...(networkFailure ? {} : { 'http.response.status_code': status, 'http.response_content_length': 200 + Math.round(rnd() * 20_000) }),
        'user_agent.original': USER_AGENT,
      });
      if (networkFailure) s.status = { code: 2, message: 'Failed to fetch' };
      else s.events = timingEvents(RESOURCE_TIMING_EVENTS, t, duration);
      push(FETCH_SCOPE, s);
    } else if (slot < 18) {
      const vital = VITALS[(slot - 15 + pageNo + variant) % VITALS.length]!;
      push(
        WEB_OTEL_SCOPE,
        span('web-vital', 1, 0, {
          'browser.web_vital.name': vital.name,
          'browser.web_vital.value': vital.value(rnd()),
          'browser.web_vital.rating': vital.rating,
          'browser.web_vital.id': `v5-${Math.floor(nowMs)}-${hex(rnd, 12)}`,
          'browser.web_vital.navigation_type': 'navigate',
          'url.path': page,
        }),
      );
    } else if (slot === 18) {
      push(
        USER_INTERACTION_SCOPE,
        span('click', 1, 30, {
          event_type: 'click',
          target_element: 'BUTTON',
          target_xpath: '//*[@id="menu-item-42"]/div/button',
          'user.action': 'add_to_cart',
          'user.action.item_id': 42 + pageNo,
          'user.action.quantity': 1,
          'user.action.source': 'menu',
          'url.path': page,
        }),
      );
    } else {
      const s = span('render', 1, 15, { 'url.full': `https://order.example.com${page}`, component: 'CartDrawer' });
      s.status = { code: 2 };
      s.events = [
        {
          timeUnixNano: nanos(t + 10),
          name: 'exception',
          attributes: attrs({
            'exception.type': 'TypeError',
            'exception.message': "Cannot read properties of undefined (reading 'items')",
            'exception.stacktrace':
              "TypeError: Cannot read properties of undefined (reading 'items')\n" +
              '    at CartDrawer (https://order.example.com/assets/index-4f2a9c1e.js:1:48213)\n' +
              '    at renderWithHooks (https://order.example.com/assets/vendor-1b7d0e55.js:9:1812)\n' +
              '    at mountIndeterminateComponent (https://order.example.com/assets/vendor-1b7d0e55.js:9:5220)',
          }),
          droppedAttributesCount: 0,
        },
      ];
      push(WEB_OTEL_SCOPE, s);
    }
  }
  return {
    resourceSpans: [
      {
        resource: {
          attributes: attrs({
            'service.name': 'connect-web',
            'service.version': '2.14.0',
            'deployment.environment.name': 'production',
            'telemetry.sdk.language': 'webjs',
            'telemetry.sdk.name': 'opentelemetry',
            'telemetry.sdk.version': '2.7.1',
            'session.id': session,
            'user_agent.original': USER_AGENT,
            [REQUEST_KEY]: REQUEST_PLACEHOLDER,
          }),
          droppedAttributesCount: 0,
        },
        scopeSpans: [...byScope].map(([name, list]) => ({ scope: { name, version: '0.216.0' }, spans: list })),
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The load.

export interface LoadResult {
  url: string;
  concurrency: number;
  spansPerRequest: number;
  warmupSeconds: number;
  /** length of the measured window, seconds */
  seconds: number;
  /** mean request body, bytes */
  bodyBytes: number;
  /** requests answered within the measured window (by the time of the answer) */
  measured: {
    okRequests: number;
    acceptedSpans: number;
    rejectedSpans: number;
    requestsPerSecond: number;
    spansPerSecond: number;
    latencyMs: { p50: number; p90: number; p99: number; max: number };
  };
  /** every request of the run, warm-up and drain included: what the table must have grown by */
  total: { sentRequests: number; okRequests: number; acceptedSpans: number; rejectedSpans: number };
  /** answers other than 200 by status, and requests without an answer by error code */
  failures: Record<string, number>;
  /** CPU this process used over the whole run, seconds */
  cpuSeconds: number;
  wallSeconds: number;
}

interface Answer {
  status: number;
  body: Buffer;
}

function post(agent: Agent, target: URL, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: '/v1/traces',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

function rejectedSpansOf(body: Buffer): number {
  if (body.length <= 2) return 0; // "{}"
  const parsed = JSON.parse(body.toString('utf8')) as { partialSuccess?: { rejectedSpans?: number | string } };
  return Number(parsed.partialSuccess?.rejectedSpans ?? 0);
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

export async function runLoad(
  url: string,
  seconds: number,
  concurrency: number,
  spansPerRequest: number,
  warmupSeconds: number,
  requestsPerSecond?: number,
): Promise<LoadResult> {
  const target = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error(`the load generator only targets loopback, not ${target.hostname}`);
  const bodies = Array.from({ length: REQUEST_VARIANTS }, (_, v) => Buffer.from(JSON.stringify(buildRequest(spansPerRequest, v)), 'utf8'));
  const marker = Buffer.from(`"key":"${REQUEST_KEY}","value":{"stringValue":"`);
  const offsets = bodies.map((b) => {
    const at = b.indexOf(marker);
    if (at < 0) throw new Error(`the request body has no ${REQUEST_KEY} attribute to number`);
    return at + marker.length;
  });
  // 8 hex digits of this process, 8 of the request's number: unique across generator processes.
  const processTag = randomBytes(4).toString('hex');
  let sequence = 0;
  let next = 0;
  /** the next variant's body with this request's own number in it */
  const nextBody = (): Buffer => {
    const v = next++ % bodies.length;
    const body = Buffer.from(bodies[v]!);
    body.write(processTag + (sequence++ % 2 ** 32).toString(16).padStart(8, '0'), offsets[v]!, 'latin1');
    return body;
  };
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const cpuStart = process.cpuUsage();
  const t0 = performance.now();
  const measureFrom = t0 + warmupSeconds * 1000;
  const end = measureFrom + seconds * 1000;
  const latencies: number[] = [];
  const measured = { okRequests: 0, acceptedSpans: 0, rejectedSpans: 0 };
  const total = { sentRequests: 0, okRequests: 0, acceptedSpans: 0, rejectedSpans: 0 };
  const failures: Record<string, number> = {};
  // The pace: request n starts at t0 + n/requestsPerSecond, as browsers keep sending whatever
  // the server is doing; a request whose start has passed (the exporter was slow) starts at once,
  // so the schedule is caught up as far as <concurrency> requests in flight allow.
  const interval = requestsPerSecond ? 1000 / requestsPerSecond : 0;
  let nextSlot = t0;
  const paced = async (): Promise<void> => {
    if (!interval) return;
    const slot = nextSlot;
    nextSlot += interval;
    const wait = slot - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  };

  async function worker(): Promise<void> {
    while (performance.now() < end) {
      await paced();
      if (performance.now() >= end) break;
      const body = nextBody();
      const sent = performance.now();
      total.sentRequests++;
      let answer: Answer;
      try {
        answer = await post(agent, target, body);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        failures[code] = (failures[code] ?? 0) + 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      const done = performance.now();
      if (answer.status !== 200) {
        failures[String(answer.status)] = (failures[String(answer.status)] ?? 0) + 1;
        continue;
      }
      const rejected = rejectedSpansOf(answer.body);
      total.okRequests++;
      total.acceptedSpans += spansPerRequest - rejected;
      total.rejectedSpans += rejected;
      if (done >= measureFrom && done <= end) {
        measured.okRequests++;
        measured.acceptedSpans += spansPerRequest - rejected;
        measured.rejectedSpans += rejected;
        latencies.push(done - sent);
      }
    }
  }

  const workers = Promise.all(Array.from({ length: concurrency }, () => worker()));
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    workers.then(() => true),
    new Promise<boolean>((resolve) => {
      drainTimer = setTimeout(() => resolve(false), warmupSeconds * 1000 + seconds * 1000 + DRAIN_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(drainTimer);
  agent.destroy();
  if (!drained) failures['not answered at the end'] = (failures['not answered at the end'] ?? 0) + 1;
  latencies.sort((a, b) => a - b);
  const cpu = process.cpuUsage(cpuStart);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    url,
    concurrency,
    spansPerRequest,
    warmupSeconds,
    seconds,
    bodyBytes: Math.round(bodies.reduce((sum, b) => sum + b.length, 0) / bodies.length),
    measured: {
      ...measured,
      requestsPerSecond: round(measured.okRequests / seconds),
      spansPerSecond: round(measured.acceptedSpans / seconds),
      latencyMs: {
        p50: round(percentile(latencies, 0.5)),
        p90: round(percentile(latencies, 0.9)),
        p99: round(percentile(latencies, 0.99)),
        max: round(latencies[latencies.length - 1] ?? NaN),
      },
    },
    total,
    failures,
    cpuSeconds: round((cpu.user + cpu.system) / 1e6),
    wallSeconds: round((performance.now() - t0) / 1000),
  };
}

async function main(): Promise<void> {
  const [url, secondsArg, concurrencyArg, spansArg, warmupArg, rateArg] = process.argv.slice(2);
  const seconds = Number(secondsArg);
  const concurrency = Number(concurrencyArg);
  const spans = Number(spansArg);
  const warmup = warmupArg === undefined ? DEFAULT_WARMUP_SECONDS : Number(warmupArg);
  const rate = rateArg === undefined ? undefined : Number(rateArg);
  const valid = (n: number, max: number) => Number.isFinite(n) && n > 0 && n <= max;
  if (!url || !valid(seconds, 600) || !Number.isInteger(concurrency) || !valid(concurrency, 1024) || !Number.isInteger(spans) || !valid(spans, 100_000) || !(warmup >= 0 && warmup <= 60) || (rate !== undefined && !valid(rate, 100_000))) {
    console.error('usage: ingest-load.js <url> <seconds 1..600> <concurrency 1..1024> <spansPerRequest> [warmupSeconds 0..60] [requestsPerSecond]');
    process.exitCode = 2;
    return;
  }
  const result = await runLoad(url, seconds, concurrency, spans, warmup, rate);
  console.log(JSON.stringify(result));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`ingest-load failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}

// Helpers for the Deno tests: tiny asserts, a fake OTLP receiver, warning capture.
import { configure, type TelemetryOptions } from './mod.ts';
import type { OtlpAttribute, OtlpSpan } from './otlp.ts';

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new Error(message);
}

export function assertEquals(actual: unknown, expected: unknown, message = ''): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message ? message + ': ' : ''}expected ${e}, got ${a}`);
}

export function assertMatch(actual: string, pattern: RegExp, message = ''): void {
  if (!pattern.test(actual)) throw new Error(`${message ? message + ': ' : ''}${JSON.stringify(actual)} does not match ${pattern}`);
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Headers;
  text: string;
  body: { resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { scope: { name: string; version: string }; spans: OtlpSpan[] }[] }[] };
  /** performance.now() when it arrived */
  at: number;
}

export interface Receiver {
  /** http://127.0.0.1:<port>/v1/traces */
  url: string;
  origin: string;
  requests: ReceivedRequest[];
  spans(): OtlpSpan[];
  /** resolves when the nth request (1-based) has arrived */
  arrived(n: number): Promise<void>;
  close(): Promise<void>;
}

/** A fake OTLP/HTTP receiver on 127.0.0.1; `respond` answers the nth request (0-based), 200 {} by default. */
export function startReceiver(respond?: (index: number, req: ReceivedRequest) => Response | Promise<Response>): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const listening = deferred<number>();
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => listening.resolve(port) }, async (req) => {
    const text = await req.text();
    const received: ReceivedRequest = {
      method: req.method,
      path: new URL(req.url).pathname,
      headers: req.headers,
      text,
      body: JSON.parse(text),
      at: performance.now(),
    };
    const index = requests.push(received) - 1;
    for (const w of waiters.filter((w) => requests.length >= w.n)) w.resolve();
    return respond ? await respond(index, received) : Response.json({});
  });
  return listening.promise.then((port) => ({
    url: `http://127.0.0.1:${port}/v1/traces`,
    origin: `http://127.0.0.1:${port}`,
    requests,
    spans: () => requests.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans))),
    arrived: (n) => {
      if (requests.length >= n) return Promise.resolve();
      const d = deferred();
      waiters.push({ n, resolve: d.resolve });
      return d.promise;
    },
    close: () => server.shutdown(),
  }));
}

export const TOKEN = 'test-token-0123456789abcdef0123456789abcdef';

const ENV = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTLP_SERVER_TOKEN',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'SB_REGION',
];

/** Clears the telemetry environment, sets `env`, and configures the library with `options`. */
export function setup(options: TelemetryOptions, env: Record<string, string> = {}): void {
  for (const name of ENV) Deno.env.delete(name);
  for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
  configure(options);
}

/** Captures console.warn until restore(). */
export function captureWarnings(): { messages: string[]; restore: () => void } {
  const messages: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void messages.push(args.map(String).join(' '));
  return { messages, restore: () => void (console.warn = original) };
}

/** The value of an attribute, as sent (e.g. { stringValue: 'x' }). */
export function attr(list: OtlpAttribute[], key: string): unknown {
  return list.find((a) => a.key === key)?.value;
}

/** An attribute list as a plain object of its values, as sent. */
export function attrs(list: OtlpAttribute[]): Record<string, unknown> {
  return Object.fromEntries(list.map((a) => [a.key, a.value]));
}

/** `promise`, or a failure after `ms` (a guard against a hang, never a performance assertion). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Test fakes shared by the unit tests: a tracer that keeps its finished spans, an instrumentation
// context around it, and a fetch that records requests and answers from a script.
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { InstrumentationContext } from '../instrumentations/types.js';
import type { RouteHistory } from '../routes.js';

export interface TestTracer {
  context: InstrumentationContext;
  spans(): ReadableSpan[];
  /** problems the library reported through debug() */
  problems: string[];
}

/** A fixed route history: `page` from the start, then each `[time, route]` of `changes`. */
export function fixedRoutes(page: string, changes: [number, string][] = []): RouteHistory {
  return {
    landing: page,
    at: (time) => changes.filter(([t]) => t <= time).pop()?.[1] ?? page,
    onChange: () => () => {},
    stop() {},
  };
}

export function createTestTracer(page = '/', routes: RouteHistory = fixedRoutes(page)): TestTracer {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const problems: string[] = [];
  return {
    context: { tracer: provider.getTracer('test'), provider, page: () => page, routes, debug: (m) => problems.push(m) },
    spans: () => exporter.getFinishedSpans(),
    problems,
  };
}

export interface RecordedRequest {
  url: string;
  body: string;
  keepalive: boolean;
}

/** A fetch that records each request and answers with the next scripted status (200 when none is left). */
export function createFakeFetch(script: (number | Error | { status: number; retryAfter: string })[] = []): {
  fetch: typeof fetch;
  requests: RecordedRequest[];
} {
  const requests: RecordedRequest[] = [];
  const fake = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    requests.push({ url: String(input), body: String(init?.body ?? ''), keepalive: init?.keepalive === true });
    const next = script.shift() ?? 200;
    if (next instanceof Error) return Promise.reject(next);
    const { status, retryAfter } = typeof next === 'number' ? { status: next, retryAfter: undefined } : next;
    return Promise.resolve(new Response('{}', { status, headers: retryAfter ? { 'Retry-After': retryAfter } : {} }));
  };
  return { fetch: fake as typeof fetch, requests };
}

/** An attribute of a span, for short assertions. */
export const attr = (span: ReadableSpan | undefined, key: string): unknown => span?.attributes[key];

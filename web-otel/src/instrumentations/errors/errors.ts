// Uncaught errors and unhandled rejections as exception events, ignore patterns, and a burst of
// the same error reported once.
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { routeAttributes, scrubUrl } from '../../urls.js';
import type { InstrumentationContext, WebInstrumentation } from '../types.js';
import type { ErrorsOptions, ExceptionInfo } from './types.js';

/** Browser noise that says nothing about the app (opaque cross-origin errors, a benign Chrome warning). */
export const IGNORED_ERRORS: (string | RegExp)[] = [/^Script error\.?$/, 'ResizeObserver loop'];
export const DEFAULT_DEDUPE_WINDOW_MS = 10_000;
const MAX_MESSAGE = 1_000;
const MAX_STACK = 4_000;
const MAX_TRACKED = 100;

/** An exception span: one `exception` event, status ERROR, the page it happened on. */
export function recordException(tracer: Tracer, info: ExceptionInfo, page: string): void {
  const span = tracer.startSpan('exception', { attributes: { ...routeAttributes(page), 'location.href': scrubUrl(location.href) } });
  span.addEvent('exception', {
    'exception.type': info.type.slice(0, 120) || 'Error',
    'exception.message': info.message.slice(0, MAX_MESSAGE),
    ...(info.stack ? { 'exception.stacktrace': info.stack.slice(0, MAX_STACK) } : {}),
  });
  span.setStatus({ code: SpanStatusCode.ERROR, message: info.message.slice(0, 200) });
  span.end();
}

/** What is known of anything thrown: an Error, an ErrorEvent's parts, a rejected string. */
export function exceptionInfo(thrown: unknown, fallbackType = 'Error'): ExceptionInfo {
  if (thrown instanceof Error || (typeof thrown === 'object' && thrown !== null && 'message' in thrown)) {
    const e = thrown as { name?: unknown; message?: unknown; stack?: unknown };
    return { type: typeof e.name === 'string' && e.name ? e.name : fallbackType, message: String(e.message), stack: typeof e.stack === 'string' ? e.stack : undefined };
  }
  let message: string;
  try {
    message = typeof thrown === 'string' ? thrown : JSON.stringify(thrown) ?? String(thrown);
  } catch {
    message = String(thrown);
  }
  return { type: fallbackType, message };
}

export function isIgnored(message: string, patterns: (string | RegExp)[]): boolean {
  return patterns.some((p) => (typeof p === 'string' ? message.includes(p) : p.test(message)));
}

/** true the first time an error is seen in a window, false for its repeats. */
export function createDeduper(windowMs: number, now: () => number = Date.now): (info: ExceptionInfo) => boolean {
  const seen = new Map<string, number>();
  return (info) => {
    const key = `${info.type}\n${info.message}\n${info.stack?.split('\n', 2)[1] ?? ''}`;
    const t = now();
    const first = seen.get(key);
    if (first !== undefined && t - first < windowMs) return false;
    seen.delete(key);
    seen.set(key, t);
    if (seen.size > MAX_TRACKED) seen.delete(seen.keys().next().value as string);
    return true;
  };
}

export class ErrorsInstrumentation implements WebInstrumentation {
  readonly name = 'errors';
  private stop: (() => void) | undefined;

  constructor(private readonly options: ErrorsOptions = {}) {}

  enable(ctx: InstrumentationContext): void {
    const ignore = this.options.ignoreErrors ?? IGNORED_ERRORS;
    const fresh = createDeduper(this.options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS);
    const report = (info: ExceptionInfo): void => {
      try {
        if (!isIgnored(info.message, ignore) && fresh(info)) recordException(ctx.tracer, info, ctx.page());
      } catch (err) {
        ctx.debug('error report', err);
      }
    };
    const onError = (e: ErrorEvent): void => {
      const info = e.error != null ? exceptionInfo(e.error) : { type: 'Error', message: e.message || 'Unknown error' };
      if (!info.stack && e.filename) info.stack = `    at ${scrubUrl(e.filename)}:${e.lineno}:${e.colno}`;
      report(info);
    };
    const onRejection = (e: PromiseRejectionEvent): void => report(exceptionInfo(e.reason, 'UnhandledRejection'));
    addEventListener('error', onError);
    addEventListener('unhandledrejection', onRejection);
    this.stop = () => {
      removeEventListener('error', onError);
      removeEventListener('unhandledrejection', onRejection);
    };
  }

  disable(): void {
    this.stop?.();
    this.stop = undefined;
  }
}

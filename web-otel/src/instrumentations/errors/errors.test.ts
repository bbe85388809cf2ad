// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { createTestTracer } from '../../testUtils/index.js';
import { createDeduper, ErrorsInstrumentation, exceptionInfo, isIgnored, IGNORED_ERRORS } from './errors.js';

describe('errors', () => {
  let instrumentation: ErrorsInstrumentation | undefined;
  afterEach(() => instrumentation?.disable());

  it('turns error and unhandledrejection events into exception events on a span with status ERROR', () => {
    const t = createTestTracer('/menu/:category');
    instrumentation = new ErrorsInstrumentation();
    instrumentation.enable(t.context);
    dispatchEvent(new ErrorEvent('error', { error: new TypeError('x is undefined'), message: 'x is undefined' }));
    const rejection = new Event('unhandledrejection') as Event & { reason?: unknown };
    rejection.reason = 'plain string reason';
    dispatchEvent(rejection);
    const spans = t.spans();
    expect(spans).toHaveLength(2);
    const [error, rejected] = spans;
    expect(error?.status.code).toBe(2);
    expect(error?.attributes.page).toBe('/menu/:category');
    expect(error?.attributes['url.template']).toBe('/menu/:category');
    expect(error?.events[0]?.name).toBe('exception');
    expect(error?.events[0]?.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'x is undefined' });
    expect(error?.events[0]?.attributes?.['exception.stacktrace']).toEqual(expect.any(String));
    expect(rejected?.events[0]?.attributes).toMatchObject({ 'exception.type': 'UnhandledRejection', 'exception.message': 'plain string reason' });
  });

  it('ignores the default noise and the app patterns', () => {
    expect(isIgnored('Script error.', IGNORED_ERRORS)).toBe(true);
    expect(isIgnored('ResizeObserver loop completed with undelivered notifications.', IGNORED_ERRORS)).toBe(true);
    expect(isIgnored('TypeError: real', IGNORED_ERRORS)).toBe(false);
    const t = createTestTracer();
    instrumentation = new ErrorsInstrumentation({ ignoreErrors: [/extension/] });
    instrumentation.enable(t.context);
    dispatchEvent(new ErrorEvent('error', { error: new Error('from an extension') }));
    expect(t.spans()).toHaveLength(0);
  });

  it('reports a burst of the same error once per window', () => {
    let now = 0;
    const fresh = createDeduper(10_000, () => now);
    const e = exceptionInfo(new Error('same'));
    expect(fresh(e)).toBe(true);
    now += 100;
    expect(fresh(e)).toBe(false);
    expect(fresh(exceptionInfo(new Error('other')))).toBe(true);
    now += 10_000;
    expect(fresh(e)).toBe(true);

    const t = createTestTracer();
    instrumentation = new ErrorsInstrumentation();
    instrumentation.enable(t.context);
    const error = new Error('looping');
    for (let i = 0; i < 50; i++) dispatchEvent(new ErrorEvent('error', { error }));
    expect(t.spans()).toHaveLength(1);
  });

  it('describes anything thrown', () => {
    expect(exceptionInfo({ message: 'object with a message' })).toMatchObject({ type: 'Error', message: 'object with a message' });
    expect(exceptionInfo({ code: 7 }, 'UnhandledRejection')).toEqual({ type: 'UnhandledRejection', message: '{"code":7}' });
    expect(exceptionInfo(undefined).message).toBe('undefined');
  });
});

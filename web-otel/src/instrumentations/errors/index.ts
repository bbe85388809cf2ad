export { ErrorsInstrumentation, recordException, exceptionInfo, isIgnored, createDeduper, IGNORED_ERRORS, DEFAULT_DEDUPE_WINDOW_MS } from './errors.js';
export type { ErrorsOptions, ExceptionInfo } from './types.js';

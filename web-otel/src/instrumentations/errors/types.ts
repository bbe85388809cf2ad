export interface ErrorsOptions {
  /** messages never reported: a string is a substring, a RegExp is tested (defaults: IGNORED_ERRORS) */
  ignoreErrors?: (string | RegExp)[];
  /** the same error (type, message, first stack line) is reported once per this window (default 10 s) */
  dedupeWindowMs?: number;
}

export interface ExceptionInfo {
  type: string;
  message: string;
  stack?: string | undefined;
}

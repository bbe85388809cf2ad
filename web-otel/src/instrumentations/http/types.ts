export type UrlPattern = string | RegExp;

export interface HttpOptions {
  /** trace fetch() (default true) */
  fetch?: boolean;
  /** trace XMLHttpRequest (default true) */
  xhr?: boolean;
  /** other origins that get a `traceparent` header (same-origin requests always do) */
  propagateTraceHeaderCorsUrls?: UrlPattern[];
  /** requests never traced; the library's own export URL is always added */
  ignoreUrls?: UrlPattern[];
}

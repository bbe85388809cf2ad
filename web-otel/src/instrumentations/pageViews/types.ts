export interface PageViewsOptions {
  /** trace the initial load with the official document-load instrumentation (default true) */
  documentLoad?: boolean;
  /** keep the document-load instrumentation's resourceFetch spans, one per script, image… (default false: traffic) */
  traceResourceFetches?: boolean;
}

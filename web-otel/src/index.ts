// @connect-observability/web-otel: OpenTelemetry spans, web vitals, errors and sessions for the browser.
export { initObservability, getObservability, SCOPE } from './init.js';
export type { Observability } from './init.js';
export * from './options.js';
export { metrics } from './metrics.js';
export type { LegacyMetrics } from './metrics.js';
export { reactRouterMatcher, collapseIds, pageName, routePath, scrubUrl } from './urls.js';
export type { RouteHistory } from './routes.js';
export type { RouteMatcher } from './urls.js';
export { getWebInstrumentations } from './instrumentations/index.js';
export type { InstrumentationOptions, InstrumentationContext, WebInstrumentation } from './instrumentations/index.js';
export type { BeforeSend, OutgoingSpan } from './transport/index.js';
export type { SessionOptions } from './session/index.js';
export type { ActionMetadata } from './instrumentations/userActions/index.js';
export type { WebVitalsSource, WebVitalsOptions } from './instrumentations/webVitals/index.js';
export type { PageViewsOptions } from './instrumentations/pageViews/index.js';
export type { HttpOptions } from './instrumentations/http/index.js';
export type { ErrorsOptions } from './instrumentations/errors/index.js';

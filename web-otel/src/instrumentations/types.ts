import type { Tracer, TracerProvider } from '@opentelemetry/api';
import type { RouteHistory } from '../routes.js';

/** What an instrumentation is given when it starts. */
export interface InstrumentationContext {
  /** the library's own tracer (scope `@connect-observability/web-otel`) */
  tracer: Tracer;
  /** for the official OpenTelemetry instrumentations, which take a provider */
  provider: TracerProvider;
  /** the current page's name (route template) */
  page(): string;
  /** the landing route, the route at a given time, and route changes */
  routes: RouteHistory;
  /** reports a problem of the library itself (never thrown into the page) */
  debug(message: string, error?: unknown): void;
}

/** One instrumentation: a name, and a way to start and stop it. */
export interface WebInstrumentation {
  readonly name: string;
  enable(context: InstrumentationContext): void;
  disable(): void;
}

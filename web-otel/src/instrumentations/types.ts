import type { Tracer, TracerProvider } from '@opentelemetry/api';

/** What an instrumentation is given when it starts. */
export interface InstrumentationContext {
  /** the library's own tracer (scope `@connect-observability/web-otel`) */
  tracer: Tracer;
  /** for the official OpenTelemetry instrumentations, which take a provider */
  provider: TracerProvider;
  /** the current page's name (route template) */
  page(): string;
  /** reports a problem of the library itself (never thrown into the page) */
  debug(message: string, error?: unknown): void;
}

/** One instrumentation: a name, and a way to start and stop it. */
export interface WebInstrumentation {
  readonly name: string;
  enable(context: InstrumentationContext): void;
  disable(): void;
}

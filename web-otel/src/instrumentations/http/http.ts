// fetch and XHR through the official instrumentations: spans named `{METHOD} {route}`, 4xx/5xx and
// network failures marked as errors, traceparent only where allowed, the export URL never traced.
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { XMLHttpRequestInstrumentation } from '@opentelemetry/instrumentation-xml-http-request';
import { httpSpanName } from '../../urls.js';
import type { InstrumentationContext, WebInstrumentation } from '../types.js';
import type { HttpOptions } from './types.js';

/**
 * Names and marks a finished HTTP span. `status` is the response status, 0 or undefined when
 * there was none (network failure, CORS, abort).
 */
export function finishHttpSpan(span: Span, status: number | undefined): void {
  // The instrumentations' spans are SDK spans: their attributes can be read back.
  span.updateName(httpSpanName((span as unknown as { attributes?: Record<string, unknown> }).attributes ?? {}));
  if (!status || status >= 400) {
    span.setAttribute('error.type', status ? String(status) : 'network');
    span.setStatus({ code: SpanStatusCode.ERROR, message: status ? `HTTP ${status}` : 'network error' });
  }
}

export class HttpInstrumentation implements WebInstrumentation {
  readonly name = 'http';
  private readonly parts: (FetchInstrumentation | XMLHttpRequestInstrumentation)[] = [];

  /** `exportUrl` is the library's own endpoint: never traced. */
  constructor(
    private readonly options: HttpOptions,
    private readonly exportUrl: string,
  ) {}

  enable(ctx: InstrumentationContext): void {
    const common = {
      enabled: false,
      ignoreNetworkEvents: true,
      ignoreUrls: [this.exportUrl, ...(this.options.ignoreUrls ?? [])],
      propagateTraceHeaderCorsUrls: this.options.propagateTraceHeaderCorsUrls ?? [],
    };
    if (this.options.fetch !== false) {
      this.parts.push(
        new FetchInstrumentation({
          ...common,
          applyCustomAttributesOnSpan: (span, _request, result) =>
            finishHttpSpan(span, result instanceof Response ? result.status : (result as { status?: number } | undefined)?.status),
        }),
      );
    }
    if (this.options.xhr !== false) {
      this.parts.push(new XMLHttpRequestInstrumentation({ ...common, applyCustomAttributesOnSpan: (span, xhr) => finishHttpSpan(span, xhr.status) }));
    }
    for (const part of this.parts) {
      part.setTracerProvider(ctx.provider);
      part.enable();
    }
  }

  disable(): void {
    for (const part of this.parts.splice(0)) part.disable();
  }
}

// Page views: the document load (the official documentLoad span, named by the landing route) and
// SPA navigations (history.pushState/replaceState, popstate, a hash router's #/path) as route_change spans.
import { DocumentLoadInstrumentation } from '@opentelemetry/instrumentation-document-load';
import type { Span, Tracer } from '@opentelemetry/api';
import type { InstrumentationContext, WebInstrumentation } from '../types.js';
import { routeAttributes, scrubUrl } from '../../urls.js';
import type { PageViewsOptions } from './types.js';

/** A page view span: `page_view` for an explicit call, `route_change` for an SPA navigation. */
export function recordPageView(tracer: Tracer, page: string, referrer: string | undefined, name: 'page_view' | 'route_change' = 'page_view'): void {
  const span = tracer.startSpan(name, { attributes: routeAttributes(page) });
  if (referrer) span.setAttribute('document.referrer', referrer);
  span.end();
}

/** Attributes the documentLoad span gets: the route, a referrer without query string. */
export function nameDocumentLoad(span: Span, page: string): void {
  span.setAttributes(routeAttributes(page));
  if (document.referrer) span.setAttribute('document.referrer', scrubUrl(document.referrer));
}

export class PageViewsInstrumentation implements WebInstrumentation {
  readonly name = 'page-views';
  private documentLoad: DocumentLoadInstrumentation | undefined;
  private stop: (() => void) | undefined;

  constructor(private readonly options: PageViewsOptions = {}) {}

  enable(ctx: InstrumentationContext): void {
    if (this.options.documentLoad !== false) {
      this.documentLoad = new DocumentLoadInstrumentation({
        enabled: false,
        ignoreNetworkEvents: true,
        ignorePerformancePaintEvents: true,
        applyCustomAttributesOnSpan: { documentLoad: (span) => nameDocumentLoad(span, ctx.routes.landing) },
      });
      this.documentLoad.setTracerProvider(ctx.provider);
      this.documentLoad.enable();
    }
    this.stop = ctx.routes.onChange((route, from) => {
      try {
        recordPageView(ctx.tracer, route, from, 'route_change');
      } catch (err) {
        ctx.debug('page view', err);
      }
    });
  }

  disable(): void {
    this.documentLoad?.disable();
    this.stop?.();
    this.stop = undefined;
  }
}

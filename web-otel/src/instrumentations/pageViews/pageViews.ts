// Page views: the document load (the official documentLoad span, named by our page name) and SPA
// navigations (history.pushState/replaceState and popstate) as route_change spans.
import { DocumentLoadInstrumentation } from '@opentelemetry/instrumentation-document-load';
import type { Span, Tracer } from '@opentelemetry/api';
import type { InstrumentationContext, WebInstrumentation } from '../types.js';
import { scrubUrl } from '../../urls.js';
import type { PageViewsOptions } from './types.js';

/** A page view span: `page_view` for an explicit call, `route_change` for an SPA navigation. */
export function recordPageView(tracer: Tracer, page: string, referrer: string | undefined, name: 'page_view' | 'route_change' = 'page_view'): void {
  const span = tracer.startSpan(name, { attributes: { page } });
  if (referrer) span.setAttribute('document.referrer', referrer);
  span.end();
}

/** Attributes the documentLoad span gets: our page name, a referrer without query string. */
export function nameDocumentLoad(span: Span, page: string): void {
  span.setAttribute('page', page);
  if (document.referrer) span.setAttribute('document.referrer', scrubUrl(document.referrer));
}

type HistoryMethod = 'pushState' | 'replaceState';

export class PageViewsInstrumentation implements WebInstrumentation {
  readonly name = 'page-views';
  private documentLoad: DocumentLoadInstrumentation | undefined;
  private restore: (() => void) | undefined;

  constructor(private readonly options: PageViewsOptions = {}) {}

  enable(ctx: InstrumentationContext): void {
    if (this.options.documentLoad !== false) {
      this.documentLoad = new DocumentLoadInstrumentation({
        enabled: false,
        ignoreNetworkEvents: true,
        ignorePerformancePaintEvents: true,
        applyCustomAttributesOnSpan: { documentLoad: (span) => nameDocumentLoad(span, ctx.page()) },
      });
      this.documentLoad.setTracerProvider(ctx.provider);
      this.documentLoad.enable();
    }
    let path = location.pathname;
    const check = (): void => {
      try {
        if (location.pathname === path) return;
        const referrer = scrubUrl(location.origin + path);
        path = location.pathname;
        recordPageView(ctx.tracer, ctx.page(), referrer, 'route_change');
      } catch (err) {
        ctx.debug('page view', err);
      }
    };
    const undo: (() => void)[] = [];
    for (const method of ['pushState', 'replaceState'] as const) {
      const original = history[method];
      const wrapper = function (this: History, ...args: Parameters<History[HistoryMethod]>): void {
        original.apply(this, args);
        check();
      };
      history[method] = wrapper;
      undo.push(() => {
        if (history[method] === wrapper) history[method] = original; // a wrapper added on top of ours stays
      });
    }
    addEventListener('popstate', check);
    undo.push(() => removeEventListener('popstate', check));
    this.restore = () => undo.forEach((f) => f());
  }

  disable(): void {
    this.documentLoad?.disable();
    this.restore?.();
    this.restore = undefined;
  }
}

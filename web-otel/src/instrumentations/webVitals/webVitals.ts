// Web vitals (LCP, INP, CLS, FCP, TTFB) from web-vitals, one span per report with the
// browser.web_vital.* attributes of the semantic conventions (name in lower case, value, delta,
// id) and the rating; each labelled with the route it was measured on: INP the route of its
// interaction, CLS the route of its largest shift, LCP, FCP and TTFB the landing route.
// Attribution, when used, is scrubbed and bounded.
import type { Tracer } from '@opentelemetry/api';
import { onCLS, onFCP, onINP, onLCP, onTTFB } from 'web-vitals';
import type { RouteHistory } from '../../routes.js';
import { routeAttributes, scrubUrl } from '../../urls.js';
import type { InstrumentationContext, WebInstrumentation } from '../types.js';
import type { VitalReport, WebVitalsOptions, WebVitalsSource } from './types.js';

const STANDARD: WebVitalsSource = { onLCP, onINP, onCLS, onFCP, onTTFB };
/** longest attribution element (a selector) and URL sent */
export const MAX_ATTRIBUTION_ELEMENT = 100;
export const MAX_ATTRIBUTION_URL = 200;

/** A CSS selector without ids, numbers or addresses in it (they can name a user or an order). */
export function scrubSelector(selector: string): string {
  return selector
    .slice(0, 200)
    .replace(/[^\s>+~,]*@[^\s>+~,]*/g, '[email]')
    .replace(/#[^\s>+~.:[,]+/g, '#:id')
    .replace(/\d{2,}/g, ':n')
    .slice(0, MAX_ATTRIBUTION_ELEMENT);
}

/** The attribution fields worth keeping, scrubbed: which element, which resource, what kind of input. */
export function attributionAttributes(attribution: object | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!attribution) return out;
  const a = attribution as Record<string, unknown>;
  for (const key of ['target', 'interactionTarget', 'largestShiftTarget']) {
    if (typeof a[key] === 'string' && a[key]) out['browser.web_vital.attribution.element'] = scrubSelector(a[key]);
  }
  if (typeof a.url === 'string' && a.url) out['browser.web_vital.attribution.url'] = scrubUrl(a.url).slice(0, MAX_ATTRIBUTION_URL);
  if (typeof a.interactionType === 'string') out['browser.web_vital.attribution.interaction_type'] = a.interactionType.slice(0, 32);
  if (typeof a.loadState === 'string') out['browser.web_vital.attribution.load_state'] = a.loadState.slice(0, 32);
  return out;
}

/**
 * The route a vital belongs to: INP's interaction (attribution's interactionTime, else its first
 * event entry), CLS's largest shift (largestShiftTime, else the largest of its entries), and the
 * landing route for LCP, FCP, TTFB (and for a CLS of 0, which has no shift). After a back/forward
 * cache restore, the route the page was restored on.
 */
export function vitalRoute(metric: VitalReport, routes: RouteHistory): string {
  const a = (metric.attribution ?? {}) as { interactionTime?: unknown; largestShiftTime?: unknown };
  const entries = metric.entries ?? [];
  let time: unknown;
  if (metric.name === 'INP') time = a.interactionTime ?? entries[0]?.startTime;
  else if (metric.name === 'CLS') {
    let largest = entries[0];
    for (const e of entries) if ((e.value ?? 0) > (largest?.value ?? 0)) largest = e;
    time = a.largestShiftTime ?? largest?.startTime;
  } else if (metric.navigationType === 'back-forward-cache') time = performance.now();
  return typeof time === 'number' && Number.isFinite(time) ? routes.at(time) : routes.landing;
}

export function recordWebVital(tracer: Tracer, metric: VitalReport, page: string): void {
  tracer
    .startSpan('web_vital', {
      attributes: {
        'browser.web_vital.name': metric.name.toLowerCase(),
        'browser.web_vital.value': metric.value,
        'browser.web_vital.delta': metric.delta ?? metric.value,
        'browser.web_vital.rating': metric.rating,
        'browser.web_vital.id': metric.id,
        'browser.web_vital.navigation_type': metric.navigationType,
        ...routeAttributes(page),
        ...attributionAttributes(metric.attribution),
      },
    })
    .end();
}

export class WebVitalsInstrumentation implements WebInstrumentation {
  readonly name = 'web-vitals';
  private enabled = false;

  constructor(private readonly options: WebVitalsOptions = {}) {}

  enable(ctx: InstrumentationContext): void {
    // web-vitals cannot unsubscribe: a disabled instrumentation ignores what it still reports.
    this.enabled = true;
    const source = this.options.source ?? STANDARD;
    const report = (metric: VitalReport): void => {
      try {
        if (this.enabled) recordWebVital(ctx.tracer, metric, vitalRoute(metric, ctx.routes));
      } catch (err) {
        ctx.debug('web vital', err);
      }
    };
    const opts = { reportAllChanges: this.options.reportAllChanges ?? false };
    for (const on of [source.onLCP, source.onINP, source.onCLS, source.onFCP, source.onTTFB]) {
      try {
        on(report, opts);
      } catch (err) {
        ctx.debug('web vitals', err);
      }
    }
  }

  disable(): void {
    this.enabled = false;
  }
}

// Web vitals (LCP, INP, CLS, FCP, TTFB) from web-vitals, one span per report with the
// browser.web_vital.* attributes the receiver reads; attribution, when used, is scrubbed.
import type { Tracer } from '@opentelemetry/api';
import { onCLS, onFCP, onINP, onLCP, onTTFB } from 'web-vitals';
import { scrubUrl } from '../../urls.js';
import type { InstrumentationContext, WebInstrumentation } from '../types.js';
import type { VitalReport, WebVitalsOptions, WebVitalsSource } from './types.js';

const STANDARD: WebVitalsSource = { onLCP, onINP, onCLS, onFCP, onTTFB };

/** A CSS selector without ids, numbers or addresses in it (they can name a user or an order). */
export function scrubSelector(selector: string): string {
  return selector
    .slice(0, 200)
    .replace(/[^\s>+~,]*@[^\s>+~,]*/g, '[email]')
    .replace(/#[^\s>+~.:[,]+/g, '#:id')
    .replace(/\d{2,}/g, ':n')
    .slice(0, 100);
}

/** The attribution fields worth keeping, scrubbed: which element, which resource, what kind of input. */
export function attributionAttributes(attribution: object | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!attribution) return out;
  const a = attribution as Record<string, unknown>;
  for (const key of ['target', 'interactionTarget', 'largestShiftTarget']) {
    if (typeof a[key] === 'string' && a[key]) out['browser.web_vital.attribution.element'] = scrubSelector(a[key]);
  }
  if (typeof a.url === 'string' && a.url) out['browser.web_vital.attribution.url'] = scrubUrl(a.url);
  if (typeof a.interactionType === 'string') out['browser.web_vital.attribution.interaction_type'] = a.interactionType;
  if (typeof a.loadState === 'string') out['browser.web_vital.attribution.load_state'] = a.loadState;
  return out;
}

export function recordWebVital(tracer: Tracer, metric: VitalReport, page: string): void {
  tracer
    .startSpan('web_vital', {
      attributes: {
        'browser.web_vital.name': metric.name,
        'browser.web_vital.value': metric.value,
        'browser.web_vital.rating': metric.rating,
        'browser.web_vital.id': metric.id,
        'browser.web_vital.navigation_type': metric.navigationType,
        page,
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
        if (this.enabled) recordWebVital(ctx.tracer, metric, ctx.page());
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

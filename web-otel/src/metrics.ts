// The old `metrics` API (src/lib/metrics.ts of Phase 9) on top of spans, so an app migrates by
// changing one import. Calls made before initObservability wait for it (up to 100).
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { CLSThresholds, FCPThresholds, INPThresholds, LCPThresholds, TTFBThresholds } from 'web-vitals';
import { recordException } from './instrumentations/errors/index.js';
import { recordPageView } from './instrumentations/pageViews/index.js';
import type { ActionMetadata } from './instrumentations/userActions/index.js';
import { recordWebVital } from './instrumentations/webVitals/index.js';
import { whenReady } from './init.js';
import { pageName } from './urls.js';

type Rating = 'good' | 'needs-improvement' | 'poor';
/**
 * The published thresholds: good up to the first, poor above the second (ms; CLS unitless). Those
 * web-vitals rates its own reports with, so a vital rates the same through either path (FID, gone
 * from web-vitals 5, as it last published them). The dashboards draw the same values from the
 * repository's thresholds.json; checks/thresholds.test.ts checks that they agree.
 */
export const THRESHOLDS: Readonly<Record<string, readonly [number, number]>> = {
  LCP: LCPThresholds,
  INP: INPThresholds,
  FID: [100, 300],
  CLS: CLSThresholds,
  FCP: FCPThresholds,
  TTFB: TTFBThresholds,
};

export interface LegacyMetrics {
  recordPageView(page: string): void;
  /** `endpoint` a path or a name (`orders.select`); `status` 0 for a network failure */
  recordAPILatency(endpoint: string, latencyMs: number, status: number, method?: string): void;
  recordError(errorType: string, message: string, stack?: string): void;
  recordUserAction(action: string, metadata?: ActionMetadata): void;
  /** `metric` LCP, INP, CLS, FCP, TTFB (FID from old callers); `value` in ms, CLS unitless */
  recordPerformance(metric: string, value: number, rating?: Rating): void;
}

export const metrics: LegacyMetrics = {
  recordPageView(page) {
    whenReady((o) => recordPageView(o.tracer, page.startsWith('/') ? pageName(page) : page, undefined));
  },
  recordAPILatency(endpoint, latencyMs, status, method = '_OTHER') {
    const end = Date.now();
    whenReady((o) => {
      // The old API names no method; `_OTHER` is the semantic conventions' "not known".
      const span = o.tracer.startSpan(`${method.toUpperCase()} ${endpoint}`, {
        kind: SpanKind.CLIENT,
        startTime: end - Math.max(0, latencyMs),
        attributes: { 'http.request.method': method.toUpperCase(), 'url.full': endpoint },
      });
      if (status > 0) span.setAttribute('http.response.status_code', status);
      if (!(status > 0 && status < 400)) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(end);
    });
  },
  recordError(errorType, message, stack) {
    whenReady((o) => recordException(o.tracer, { type: errorType, message, stack }, o.page()));
  },
  recordUserAction(action, metadata) {
    whenReady((o) => o.recordUserAction(action, metadata));
  },
  recordPerformance(metric, value, rating) {
    const name = metric.toUpperCase();
    const [good, poor] = THRESHOLDS[name] ?? [Infinity, Infinity];
    whenReady((o) =>
      recordWebVital(
        o.tracer,
        {
          name: name as 'LCP',
          value,
          rating: rating ?? (value <= good ? 'good' : value <= poor ? 'needs-improvement' : 'poor'),
          id: `legacy-${Date.now()}`,
          navigationType: 'navigate',
        },
        o.page(),
      ),
    );
  },
};

export default metrics;

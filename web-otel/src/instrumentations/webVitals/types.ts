import type { Metric } from 'web-vitals';

/** A web-vitals report, with the attribution build's extra data when it is used. */
export type VitalReport = Pick<Metric, 'name' | 'value' | 'rating' | 'id' | 'navigationType'> & {
  /** the change since the last report of this metric instance (the value itself on the first) */
  delta?: number;
  /** the performance entries behind the value (INP: the interaction's events; CLS: the shifts of its largest window) */
  entries?: readonly { startTime: number; value?: number }[];
  attribution?: object;
};

type On = (callback: (metric: VitalReport) => void, options?: { reportAllChanges?: boolean }) => void;

/** The web-vitals functions used: the standard build by default, or `webVitalsAttribution`. */
export interface WebVitalsSource {
  onLCP: On;
  onINP: On;
  onCLS: On;
  onFCP: On;
  onTTFB: On;
}

export interface WebVitalsOptions {
  /** report every change, not only final values (default false: one sample per metric and page load) */
  reportAllChanges?: boolean;
  /** which web-vitals build: `webVitalsAttribution` (from `@connect-observability/web-otel/attribution`) adds scrubbed attribution */
  source?: WebVitalsSource;
}

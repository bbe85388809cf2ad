export { WebVitalsInstrumentation, recordWebVital, scrubSelector, attributionAttributes, vitalRoute, MAX_ATTRIBUTION_ELEMENT, MAX_ATTRIBUTION_URL } from './webVitals.js';
export type { VitalReport, WebVitalsOptions, WebVitalsSource } from './types.js';

export { WebVitalsInstrumentation, recordWebVital, scrubSelector, attributionAttributes } from './webVitals.js';
export type { VitalReport, WebVitalsOptions, WebVitalsSource } from './types.js';

// The attribution build of web-vitals, for `webVitals: { source: webVitalsAttribution }`: spans then
// carry the element (selector scrubbed of ids and numbers), the resource URL (no query) and the input type.
// A separate entry point so that the default bundle does not carry it.
import { onCLS, onFCP, onINP, onLCP, onTTFB } from 'web-vitals/attribution';
import type { WebVitalsSource } from './instrumentations/webVitals/types.js';

export const webVitalsAttribution: WebVitalsSource = { onLCP, onINP, onCLS, onFCP, onTTFB };

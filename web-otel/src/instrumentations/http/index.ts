export { HttpInstrumentation, finishHttpSpan } from './http.js';
export type { HttpOptions, UrlPattern } from './types.js';

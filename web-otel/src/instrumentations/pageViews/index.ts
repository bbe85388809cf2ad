export { PageViewsInstrumentation, recordPageView, nameDocumentLoad } from './pageViews.js';
export type { PageViewsOptions } from './types.js';

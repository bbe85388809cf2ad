// The default set of instrumentations, each one switched off with `enableX: false`.
import { ErrorsInstrumentation, type ErrorsOptions } from './errors/index.js';
import { HttpInstrumentation, type HttpOptions } from './http/index.js';
import { PageViewsInstrumentation, type PageViewsOptions } from './pageViews/index.js';
import type { WebInstrumentation } from './types.js';
import { UserActionsInstrumentation, type UserActionsOptions } from './userActions/index.js';
import { WebVitalsInstrumentation, type WebVitalsOptions } from './webVitals/index.js';

export interface InstrumentationOptions {
  /** document load and SPA navigations as page views (default true) */
  enablePageViews?: boolean;
  /** fetch and XHR spans (default true) */
  enableHttp?: boolean;
  /** uncaught errors and unhandled rejections (default true) */
  enableErrors?: boolean;
  /** clicks on `[data-action]` elements (default true; explicit calls always work) */
  enableUserActions?: boolean;
  /** LCP, INP, CLS, FCP, TTFB (default true) */
  enableWebVitals?: boolean;
  pageViews?: PageViewsOptions;
  http?: HttpOptions;
  errors?: ErrorsOptions;
  userActions?: UserActionsOptions;
  webVitals?: WebVitalsOptions;
}

export function getWebInstrumentations(options: InstrumentationOptions, exportUrl: string): WebInstrumentation[] {
  const list: WebInstrumentation[] = [];
  if (options.enablePageViews !== false) list.push(new PageViewsInstrumentation(options.pageViews));
  if (options.enableHttp !== false) list.push(new HttpInstrumentation(options.http ?? {}, exportUrl));
  if (options.enableErrors !== false) list.push(new ErrorsInstrumentation(options.errors));
  if (options.enableUserActions !== false) list.push(new UserActionsInstrumentation(options.userActions));
  if (options.enableWebVitals !== false) list.push(new WebVitalsInstrumentation(options.webVitals));
  return list;
}

export type { InstrumentationContext, WebInstrumentation } from './types.js';

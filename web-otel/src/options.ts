// Everything initObservability accepts, one line each, and the defaults as named constants.
import type { InstrumentationOptions } from './instrumentations/index.js';
import type { SessionOptions } from './session/index.js';
import type { BeforeSend } from './transport/index.js';
import type { RouteMatcher } from './urls.js';

/** same origin, proxied to the exporter's POST /v1/traces */
export const DEFAULT_ENDPOINT = '/v1/traces';
/** like the old collector: a batch leaves after 5 s or at 20 spans */
export const DEFAULT_BATCH_DELAY_MS = 5_000;
export const DEFAULT_MAX_BATCH_SIZE = 20;
/** spans held while the network is slow; more are dropped */
export const DEFAULT_MAX_QUEUE_SIZE = 1_000;
/** longest attribute value kept on a span */
export const DEFAULT_ATTRIBUTE_VALUE_LIMIT = 4_096;

export interface ObservabilityOptions extends InstrumentationOptions {
  /** resource `service.name` (default `web`) */
  serviceName?: string;
  /** resource `service.version`, e.g. the build's version or commit */
  serviceVersion?: string;
  /** resource `deployment.environment.name` (`production`, `staging`) */
  environment?: string;
  /** where spans are POSTed, OTLP/HTTP JSON (default `/v1/traces`, same origin) */
  endpoint?: string;
  /** query parameters URLs keep when they leave the browser, by name (default none: every query string is dropped) */
  allowedQueryParams?: string[];
  /** the app's route matcher: path → route template (see `reactRouterMatcher`); else ids in the path collapse to `:id` */
  matchRoute?: RouteMatcher;
  /** longest wait before a batch is sent, ms (default 5000) */
  batchDelayMs?: number;
  /** spans per batch; a full batch is sent at once (default 20) */
  maxBatchSize?: number;
  /** spans held at most while waiting to be sent (default 1000); past it new spans are dropped, but an error or a web vital takes an ordinary span's place */
  maxQueueSize?: number;
  /** largest request body, bytes; keepalive needs it under 64 KB (default 60000) */
  maxRequestBytes?: number;
  /** redaction hook: change a span before it is sent, or return null to drop it */
  beforeSend?: BeforeSend;
  /** session renewal and sampling */
  session?: SessionOptions;
  /** called with the library's own problems (default: silent; nothing is ever thrown into the page) */
  debug?: (message: string, error?: unknown) => void;
}

// initObservability: one call sets up the tracer provider, the session, the batch, the transport and
// the instrumentations, and returns a handle. It never throws: on failure the handle does nothing.
import { context as otelContext, propagation, trace, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { exceptionInfo, recordException } from './instrumentations/errors/index.js';
import { getWebInstrumentations, type InstrumentationContext, type WebInstrumentation } from './instrumentations/index.js';
import { recordPageView } from './instrumentations/pageViews/index.js';
import { recordUserAction, type ActionMetadata } from './instrumentations/userActions/index.js';
import {
  DEFAULT_ATTRIBUTE_VALUE_LIMIT,
  DEFAULT_BATCH_DELAY_MS,
  DEFAULT_ENDPOINT,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_QUEUE_SIZE,
  type ObservabilityOptions,
} from './options.js';
import { SessionSpanProcessor } from './processor.js';
import { createRouteHistory } from './routes.js';
import { SessionSampler } from './sampler.js';
import { createSessionManager } from './session/index.js';
import { createTransport } from './transport/index.js';
import { allowQueryParams, pageName, routePath, scrubUrl } from './urls.js';
import { VERSION } from './version.js';

export const SCOPE = '@connect-observability/web-otel';

export interface Observability {
  /** the current session's id (`session.id` on every span) */
  readonly sessionId: string;
  /** the tracer of the library's own spans, for the app's spans too */
  readonly tracer: Tracer;
  /** the current page's name */
  page(): string;
  recordUserAction(action: string, metadata?: ActionMetadata): void;
  /** an error the app caught itself; `type` overrides the error's name */
  recordError(error: unknown, type?: string): void;
  /** a page view of the current path (or of `path`), for routers the history patch does not see */
  recordPageView(path?: string): void;
  /** sends every finished span now */
  flush(): Promise<void>;
  /** ends the instrumentations and sends what is left */
  shutdown(): Promise<void>;
}

let current: Observability | undefined;
const waiting = new Set<(o: Observability) => void>();

/** The handle of the running setup, or undefined before initObservability. */
export function getObservability(): Observability | undefined {
  return current;
}

/** Calls `fn` with the handle now, or once initObservability has run. */
export function whenReady(fn: (o: Observability) => void): void {
  if (current) fn(current);
  else if (waiting.size < 100) waiting.add(fn);
}

export function initObservability(options: ObservabilityOptions = {}): Observability {
  const debug = options.debug ?? (() => {});
  if (current) {
    debug('initObservability called twice: the first setup stays');
    return current;
  }
  try {
    current = setUp(options, debug);
  } catch (err) {
    debug('initObservability failed: telemetry is off', err);
    current = noop;
  }
  const handle = current;
  for (const fn of [...waiting]) safely(() => fn(handle), debug);
  waiting.clear();
  return handle;
}

function setUp(options: ObservabilityOptions, debug: (message: string, error?: unknown) => void): Observability {
  const endpoint = new URL(options.endpoint ?? DEFAULT_ENDPOINT, location.href).href;
  allowQueryParams(options.allowedQueryParams);
  const sessions = createSessionManager(options.session);
  // The transport takes the page's fetch before the fetch instrumentation wraps it.
  const transport = createTransport({ url: endpoint, maxRequestBytes: options.maxRequestBytes, beforeSend: options.beforeSend });
  const processor = new SessionSpanProcessor(transport, sessions, {
    delayMs: options.batchDelayMs ?? DEFAULT_BATCH_DELAY_MS,
    maxBatchSize: options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE,
    maxQueueSize: options.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE,
    keepResourceFetches: options.pageViews?.traceResourceFetches === true,
  });
  const resource: Record<string, string> = { 'service.name': options.serviceName ?? 'web', 'user_agent.original': navigator.userAgent };
  if (options.serviceVersion) resource['service.version'] = options.serviceVersion;
  if (options.environment) resource['deployment.environment.name'] = options.environment;
  const provider = new WebTracerProvider({
    resource: resourceFromAttributes(resource),
    sampler: new SessionSampler(sessions),
    spanProcessors: [processor],
    spanLimits: { attributeValueLengthLimit: DEFAULT_ATTRIBUTE_VALUE_LIMIT, attributeCountLimit: 64, eventCountLimit: 16 },
  });
  provider.register();
  const tracer = provider.getTracer(SCOPE, VERSION);
  const page = (): string => pageName(routePath(), options.matchRoute);
  const routes = createRouteHistory(page, routePath, () => scrubUrl(location.href));
  const context: InstrumentationContext = { tracer, provider, page, routes, debug };
  const instrumentations: WebInstrumentation[] = [];
  for (const instrumentation of getWebInstrumentations(options, endpoint)) {
    try {
      instrumentation.enable(context);
      instrumentations.push(instrumentation);
    } catch (err) {
      debug(`instrumentation ${instrumentation.name} failed to start`, err);
    }
  }

  // Hidden (tab switch, app switch, and before a close): what is finished leaves now; a request
  // still waiting keeps its chance to answer. Unloaded (pagehide): the page's work ends, spans
  // still open are ended and sent. web-vitals listens on window in the capture phase, so it
  // reports before these listeners run and its last values are in the send. Synchronous up to
  // fetch(…, {keepalive}) and sendBeacon: there is no later.
  const onHidden = (): void => {
    if (document.visibilityState === 'hidden') safely(() => processor.sendFinished(), debug);
  };
  const onPageHide = (): void => safely(() => processor.endPage(), debug);
  document.addEventListener('visibilitychange', onHidden);
  addEventListener('pagehide', onPageHide);

  let stopped = false;
  const act = (fn: () => void): void => {
    if (!stopped) safely(fn, debug);
  };
  const handle: Observability = {
    get sessionId() {
      return sessions.touch().id;
    },
    tracer,
    page,
    recordUserAction: (action, metadata) => act(() => recordUserAction(tracer, action, metadata, page())),
    recordError: (error, type) =>
      act(() => {
        const info = exceptionInfo(error);
        recordException(tracer, type ? { ...info, type } : info, page());
      }),
    recordPageView: (path) => act(() => recordPageView(tracer, path === undefined ? page() : pageName(path, options.matchRoute), document.referrer ? scrubUrl(document.referrer) : undefined)),
    flush: () => provider.forceFlush().catch((err: unknown) => debug('flush', err)),
    async shutdown() {
      if (stopped) return;
      stopped = true;
      document.removeEventListener('visibilitychange', onHidden);
      removeEventListener('pagehide', onPageHide);
      for (const i of instrumentations) safely(() => i.disable(), debug);
      routes.stop();
      await provider.shutdown().catch((err: unknown) => debug('shutdown', err));
      trace.disable();
      otelContext.disable();
      propagation.disable();
      allowQueryParams([]);
      if (current === handle) current = undefined;
    },
  };
  return handle;
}

function safely(fn: () => void, debug: (message: string, error?: unknown) => void): void {
  try {
    fn();
  } catch (err) {
    debug('unexpected', err);
  }
}

const noop: Observability = {
  sessionId: '',
  tracer: trace.getTracer(SCOPE),
  page: () => '/',
  recordUserAction() {},
  recordError() {},
  recordPageView() {},
  flush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

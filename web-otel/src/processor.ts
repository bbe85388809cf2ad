// The span processor: session.id on every span, the batch (a batch leaves after the delay or at
// maxBatchSize spans), resourceFetch spans dropped, and the spans still open tracked so that the
// end of the page can end them. A page hidden only sends what is finished; a page closed ends its
// work: an HTTP request still waiting for its response is ended then and sent as aborted.
import { SpanKind, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SessionManager } from './session/index.js';
import type { Transport } from './transport/index.js';
import { httpSpanName } from './urls.js';

/** error.type of an HTTP request still without a response when its page closed (the receiver: an aborted call) */
export const ABORTED_BY_UNLOAD = 'aborted_by_unload';

const HTTP_SCOPES = ['@opentelemetry/instrumentation-fetch', '@opentelemetry/instrumentation-xml-http-request'];

export interface BatchOptions {
  /** longest wait before a batch is sent, ms */
  delayMs: number;
  /** a batch this large leaves at once */
  maxBatchSize: number;
  /** spans held at most; past it new spans are dropped, but an error or a web vital replaces an ordinary span */
  maxQueueSize: number;
  /** keep the document-load instrumentation's resourceFetch spans */
  keepResourceFetches: boolean;
}

/** An HTTP client span (fetch, XHR, or any CLIENT span with a method) still without a response status. */
export function isPendingHttp(span: ReadableSpan): boolean {
  const a = span.attributes;
  const http = HTTP_SCOPES.includes(span.instrumentationScope.name) || a['http.request.method'] !== undefined || a['http.method'] !== undefined;
  return span.kind === SpanKind.CLIENT && http && a['http.response.status_code'] === undefined && a['http.status_code'] === undefined;
}

const important = (span: ReadableSpan): boolean =>
  span.status.code === 2 || span.attributes['browser.web_vital.name'] !== undefined || span.events.some((e) => e.name === 'exception');

export class SessionSpanProcessor implements SpanProcessor {
  private readonly open = new Set<Span>();
  private queue: ReadableSpan[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** while the page's open spans are being ended: no batch leaves on its own */
  private holding = false;
  /** spans dropped because the queue was full */
  dropped = 0;

  constructor(
    private readonly transport: Transport,
    private readonly sessions: SessionManager,
    private readonly options: BatchOptions,
  ) {}

  onStart(span: Span, _parentContext: Context): void {
    span.setAttribute('session.id', this.sessions.touch().id);
    this.open.add(span);
  }

  onEnd(span: ReadableSpan): void {
    this.open.delete(span as Span);
    if (!this.options.keepResourceFetches && span.name === 'resourceFetch') return;
    if (this.queue.length >= this.options.maxQueueSize) {
      const ordinary = important(span) ? this.queue.findIndex((s) => !important(s)) : -1;
      this.dropped++;
      if (ordinary < 0) return;
      this.queue.splice(ordinary, 1);
    }
    this.queue.push(span);
    if (this.holding) return;
    if (this.queue.length >= this.options.maxBatchSize) this.send(false);
    else this.timer ??= setTimeout(() => this.send(false), this.options.delayMs);
  }

  /** The page is hidden: what is finished leaves now (spans still open go on, a request keeps its chance to answer). */
  sendFinished(): void {
    this.send(true);
  }

  /**
   * The page is going away (pagehide): every span still open is ended now and sent, errors first.
   * An HTTP request still waiting for its response gets `error.type` `aborted_by_unload` and no
   * status code: the user left, the API did not fail.
   */
  endPage(): void {
    this.holding = true;
    try {
      for (const span of [...this.open]) {
        try {
          if (isPendingHttp(span)) {
            span.setAttribute('error.type', ABORTED_BY_UNLOAD);
            span.updateName(httpSpanName(span.attributes));
          }
          span.end();
        } catch {
          // already ended elsewhere
        }
      }
      this.open.clear();
    } finally {
      this.holding = false;
    }
    this.send(true);
  }

  forceFlush(): Promise<void> {
    this.send(false);
    return this.transport.forceFlush();
  }

  shutdown(): Promise<void> {
    this.send(false);
    this.open.clear();
    return this.transport.shutdown();
  }

  private send(urgent: boolean): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const spans = this.queue;
    this.queue = [];
    if (spans.length === 0) return;
    if (urgent) this.transport.sendNow(spans);
    else this.transport.export(spans, () => {});
  }
}

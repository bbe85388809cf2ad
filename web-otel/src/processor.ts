// The span processor in front of the batch: session.id on every span, spans still open tracked
// so that a page being hidden can end them before the last flush, resourceFetch spans dropped.
import { SpanKind, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SessionManager } from './session/index.js';

export class SessionSpanProcessor implements SpanProcessor {
  private readonly open = new Set<Span>();
  private readonly discard = new WeakSet<object>();

  constructor(
    private readonly next: SpanProcessor,
    private readonly sessions: SessionManager,
    private readonly keepResourceFetches: boolean,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    span.setAttribute('session.id', this.sessions.touch().id);
    this.open.add(span);
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    this.open.delete(span as Span);
    if (this.discard.has(span)) return;
    if (!this.keepResourceFetches && span.name === 'resourceFetch') return;
    this.next.onEnd(span);
  }

  /**
   * Ends every span still open, now: the page may be gone before they end by themselves. An HTTP
   * request still without a response is ended unsent: the user leaving is not an API failure.
   */
  endOpenSpans(): void {
    for (const span of [...this.open]) {
      try {
        const a = span.attributes;
        if (span.kind === SpanKind.CLIENT && a['http.response.status_code'] === undefined && a['http.status_code'] === undefined) this.discard.add(span);
        span.end();
      } catch {
        // already ended elsewhere
      }
    }
    this.open.clear();
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    this.open.clear();
    return this.next.shutdown();
  }
}

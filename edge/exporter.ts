// The background half: a bounded queue of finished spans, drained in batches by one loop that
// POSTs them as OTLP/HTTP JSON with retries. Nothing here throws or rejects: every failure ends
// as a counted drop and a warning (once per kind).
import { exportRequest, type OtlpAttribute, type OtlpSpan } from './otlp.ts';

export interface ExportSettings {
  /** the full traces URL (…/v1/traces) */
  url: string;
  token: string;
  resource: OtlpAttribute[];
  timeoutMs: number;
  maxQueueSize: number;
  maxBatchSize: number;
  maxAttempts: number;
  initialRetryDelayMs: number;
  maxRetryDelayMs: number;
}

/** Logs `message` the first time `key` is seen. */
export type WarnOnce = (key: string, message: string) => void;

/** The statuses the OTLP/HTTP spec says to retry; any other error status drops the batch. */
const RETRYABLE = new Set([429, 502, 503, 504]);

interface Queued {
  span: OtlpSpan;
  /** carries a payment_failure event: dropped last when the queue is full */
  payment: boolean;
}

type Outcome = { done: true } | { done: false; reason: string; retryAfterMs: number | undefined };

export class Exporter {
  private queue: Queued[] = [];
  private draining: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  readonly counts = { exported: 0, dropped: 0 };
  private readonly settings: () => ExportSettings | undefined;
  private readonly warn: WarnOnce;

  constructor(settings: () => ExportSettings | undefined, warn: WarnOnce) {
    this.settings = settings;
    this.warn = warn;
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * Queues a finished span and returns the promise of the drain that will send it (for
   * EdgeRuntime.waitUntil). The drain starts on a timer, so the spans of the same tick go together
   * and the caller's response leaves first.
   */
  enqueue(span: OtlpSpan, payment: boolean, maxQueueSize: number): Promise<void> {
    this.queue.push({ span, payment });
    while (this.queue.length > maxQueueSize) {
      // The oldest span without a payment failure goes first: payment failures page on-call.
      const i = this.queue.findIndex((q) => !q.payment);
      this.queue.splice(i === -1 ? 0 : i, 1);
      this.counts.dropped++;
      this.warn('queue-full', `the queue is full (${maxQueueSize} spans): dropping the oldest spans, payment failures last; is the exporter reachable?`);
    }
    this.draining ??= this.drain();
    return this.draining;
  }

  /** Sends everything queued now, without waiting for the timer; resolves when done or given up. */
  async flush(): Promise<void> {
    while (this.draining !== undefined) {
      if (this.wake !== undefined) {
        clearTimeout(this.timer);
        this.wake();
      }
      await this.draining;
    }
  }

  private async drain(): Promise<void> {
    try {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, 0);
      });
      this.wake = undefined;
      this.timer = undefined;
      while (this.queue.length > 0) {
        const settings = this.settings();
        const batch = this.queue.splice(0, settings?.maxBatchSize ?? this.queue.length);
        if (settings === undefined) this.counts.dropped += batch.length;
        else await this.send(batch.map((q) => q.span), settings);
      }
    } catch (err) {
      this.warn('internal', `internal error while exporting spans: ${describe(err)}`);
    } finally {
      // In the same tick as the last look at the queue: a span queued after this starts a new drain.
      this.draining = undefined;
    }
  }

  private async send(spans: OtlpSpan[], settings: ExportSettings): Promise<void> {
    // One body for every attempt: the receiver recognises a replayed request by its bytes.
    const body = exportRequest(settings.resource, spans);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.post(body, spans.length, settings);
      if (outcome.done) return;
      if (attempt >= settings.maxAttempts) {
        this.counts.dropped += spans.length;
        this.warn('gave-up', `export failed after ${attempt} attempts (last: ${outcome.reason}); dropped ${spans.length} spans`);
        return;
      }
      await sleep(outcome.retryAfterMs ?? backoff(attempt, settings));
    }
  }

  private async post(body: string, count: number, settings: ExportSettings): Promise<Outcome> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), settings.timeoutMs);
    try {
      const res = await fetch(settings.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${settings.token}` },
        body,
        // A redirect would carry the token elsewhere: refused, not followed.
        redirect: 'manual',
        signal: controller.signal,
      });
      const text = await res.text();
      if (res.status >= 200 && res.status < 300) {
        this.counts.exported += count;
        this.checkPartialSuccess(text);
        return { done: true };
      }
      if (RETRYABLE.has(res.status)) {
        return { done: false, reason: `HTTP ${res.status}`, retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), settings.maxRetryDelayMs) };
      }
      this.counts.dropped += count;
      this.warn(`status-${res.status}`, `the exporter answered HTTP ${res.status}${detail(text)}; dropped the batch (not retried)`);
      return { done: true };
    } catch (err) {
      // Network errors and timeouts are retried.
      return { done: false, reason: controller.signal.aborted ? `timeout after ${settings.timeoutMs} ms` : describe(err), retryAfterMs: undefined };
    } finally {
      clearTimeout(timer);
    }
  }

  private checkPartialSuccess(text: string): void {
    let partial: { rejectedSpans?: unknown; errorMessage?: unknown } | undefined;
    try {
      partial = (JSON.parse(text) as { partialSuccess?: typeof partial } | null)?.partialSuccess;
    } catch {
      return; // an empty or non-JSON 200 is a success
    }
    const rejected = Number(partial?.rejectedSpans ?? 0);
    if (!(rejected > 0)) return;
    const message = clean(typeof partial?.errorMessage === 'string' ? partial.errorMessage : '');
    this.warn(`partial:${message}`, `the exporter rejected ${rejected} spans: ${message || '(no message)'}`);
  }
}

/** A Retry-After header (delay-seconds or an HTTP date) in milliseconds, at most `max`; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null, max: number, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  // delay-seconds, or an HTTP date (which has letters: a bare number such as -1 is no date)
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : /[a-z]/i.test(v) ? Date.parse(v) - now : Number.NaN;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(ms, 0), max);
}

/** Exponential backoff with jitter: 1, 2, 4… times the initial delay, each between half and all of it, at most the max. */
export function backoff(attempt: number, settings: Pick<ExportSettings, 'initialRetryDelayMs' | 'maxRetryDelayMs'>): number {
  const ceiling = Math.min(settings.maxRetryDelayMs, settings.initialRetryDelayMs * 2 ** (attempt - 1));
  return ceiling * (0.5 + Math.random() / 2);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One printable line of at most 300 characters. */
const clean = (s: string): string =>
  Array.from(s.slice(0, 1000), (c) => (c < ' ' || c === '\u007f' ? ' ' : c)).join('').replace(/\s+/g, ' ').trim().slice(0, 300);

function describe(err: unknown): string {
  try {
    return clean(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  } catch {
    return 'unknown error';
  }
}

/** The receiver's explanation (an OTLP Status JSON message, or the start of the text). */
function detail(text: string): string {
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown } | null;
    if (typeof parsed?.message === 'string') message = parsed.message;
  } catch {
    // not JSON: the text itself
  }
  const m = clean(message);
  return m === '' ? '' : `: ${m}`;
}

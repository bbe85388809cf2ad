// The span exporter: OTLP/HTTP JSON over fetch with keepalive, requests under 60 KB, back-off on
// 429/502/503/504 honouring Retry-After, a beforeSend hook, and nothing ever thrown into the page.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { encodeRequest, encodeResource, encodeSpan, toOutgoing } from './encode.js';
import type { TransportOptions } from './types.js';

export const DEFAULT_MAX_REQUEST_BYTES = 60_000;
export const DEFAULT_MAX_BACKOFF_MS = 60_000;
export const DEFAULT_MAX_QUEUED_REQUESTS = 10;
/** browsers refuse keepalive requests once 64 KiB of keepalive bodies are in flight */
const KEEPALIVE_BUDGET_BYTES = 64_000;
const RETRYABLE = new Set([429, 502, 503, 504]);
/** a request that failed on the network is tried this often in all */
const MAX_ATTEMPTS = 3;

export interface Transport extends SpanExporter {
  /** counts for tests and debugging */
  readonly stats: { sent: number; dropped: number; retried: number };
  /** resolves once the requests already started have settled */
  forceFlush(): Promise<void>;
}

interface Pending {
  body: string;
  bytes: number;
  attempts: number;
}

export function createTransport(options: TransportOptions): Transport {
  const maxBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const maxBackoff = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const maxQueued = options.maxQueuedRequests ?? DEFAULT_MAX_QUEUED_REQUESTS;
  const doFetch = options.fetch ?? originalFetch();
  const encoder = new TextEncoder();
  const stats = { sent: 0, dropped: 0, retried: 0 };
  const inflight = new Set<Promise<void>>();
  let keepaliveBytes = 0;
  let queue: Pending[] = [];
  let blockedUntil = 0;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let resourceOf: [object, string] | undefined;

  const enqueue = (p: Pending): void => {
    queue.push(p);
    if (queue.length > maxQueued) stats.dropped += queue.splice(0, queue.length - maxQueued).length;
    schedule();
  };

  const schedule = (): void => {
    if (timer !== undefined || queue.length === 0 || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      const ready = queue;
      queue = [];
      for (const p of ready) send(p);
    }, Math.max(0, blockedUntil - Date.now()));
  };

  const backOff = (retryAfter: string | null): void => {
    failures++;
    const seconds = retryAfter === null ? NaN : Number(retryAfter);
    const fromHeader = Number.isFinite(seconds) ? seconds * 1000 : retryAfter ? Date.parse(retryAfter) - Date.now() : NaN;
    const exponential = Math.min(maxBackoff, 1000 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
    blockedUntil = Date.now() + Math.min(maxBackoff, Number.isFinite(fromHeader) && fromHeader > 0 ? fromHeader : exponential);
  };

  /** Starts the request now (synchronously: at pagehide there is no later). */
  const send = (p: Pending): void => {
    if (Date.now() < blockedUntil) return enqueue(p);
    p.attempts++;
    const keepalive = keepaliveBytes + p.bytes <= KEEPALIVE_BUDGET_BYTES;
    if (keepalive) keepaliveBytes += p.bytes;
    let request: Promise<void>;
    try {
      request = doFetch(options.url, {
        method: 'POST',
        body: p.body,
        headers: { 'Content-Type': 'application/json' },
        keepalive,
      }).then(
        (res) => {
          if (res.ok) {
            failures = 0;
            stats.sent++;
          } else if (RETRYABLE.has(res.status)) {
            stats.retried++;
            backOff(res.headers.get('Retry-After'));
            enqueue(p);
          } else {
            stats.dropped++; // 400, 413, 415: sending it again cannot help
          }
        },
        () => retryOrDrop(p),
      );
    } catch {
      request = Promise.resolve(retryOrDrop(p)); // fetch threw synchronously (a bad init in an old browser)
    }
    const tracked = request.finally(() => {
      if (keepalive) keepaliveBytes -= p.bytes;
      inflight.delete(tracked);
    });
    inflight.add(tracked);
  };

  const retryOrDrop = (p: Pending): void => {
    if (p.attempts >= MAX_ATTEMPTS || closed) {
      stats.dropped++;
      return;
    }
    stats.retried++;
    backOff(null);
    enqueue(p);
  };

  /** Packs spans into request bodies under the byte limit, grouped by scope. */
  const pack = (spans: ReadableSpan[]): Pending[] => {
    const first = spans[0];
    if (!first) return [];
    if (resourceOf?.[0] !== first.resource) resourceOf = [first.resource, encodeResource(first.resource.attributes)];
    const resource = resourceOf[1];
    const envelope = encoder.encode(encodeRequest(resource, new Map())).length;
    const out: Pending[] = [];
    let scopes = new Map<string, string[]>();
    let bytes = envelope;
    const close = (): void => {
      if (scopes.size === 0) return;
      const body = encodeRequest(resource, scopes);
      out.push({ body, bytes: encoder.encode(body).length, attempts: 0 });
      scopes = new Map();
      bytes = envelope;
    };
    for (const span of spans) {
      let outgoing = toOutgoing(span);
      if (options.beforeSend) {
        try {
          const result = options.beforeSend(outgoing);
          if (!result) continue;
          outgoing = result;
        } catch {
          stats.dropped++; // a failing redaction hook must not let the span out unredacted
          continue;
        }
      }
      const json = encodeSpan(outgoing);
      const size = encoder.encode(json).length + 1;
      const scopeCost = outgoing.scope.length + 40; // {"scope":{"name":…},"spans":[]},
      if (envelope + size + scopeCost > maxBytes) {
        stats.dropped++; // one span larger than a request: it can never be sent
        continue;
      }
      if (bytes + size + (scopes.has(outgoing.scope) ? 0 : scopeCost) > maxBytes) close();
      const list = scopes.get(outgoing.scope);
      if (list) list.push(json);
      else scopes.set(outgoing.scope, [json]);
      bytes += size + (list ? 0 : scopeCost);
    }
    close();
    return out;
  };

  return {
    stats,
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      let result: ExportResult = { code: ExportResultCode.SUCCESS };
      try {
        if (closed) result = { code: ExportResultCode.FAILED };
        else for (const p of pack(spans)) send(p);
      } catch {
        result = { code: ExportResultCode.FAILED };
      }
      try {
        done(result);
      } catch {
        // the processor's callback is not ours to fail
      }
    },
    async forceFlush(): Promise<void> {
      // Requests already started are awaited; queued ones wait for their back-off.
      await Promise.all([...inflight]);
    },
    async shutdown(): Promise<void> {
      await Promise.all([...inflight]);
      closed = true;
      clearTimeout(timer);
    },
  };
}

/** The page's own fetch, bound, before an instrumentation wraps it: exports are never traced. */
export function originalFetch(): typeof fetch {
  return typeof fetch === 'function' ? fetch.bind(globalThis) : () => Promise.reject(new Error('fetch is not available'));
}

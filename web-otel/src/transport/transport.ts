// The span exporter: OTLP/HTTP JSON over fetch with keepalive, requests under 60 KB, back-off on
// 429/502/503/504 honouring Retry-After, a beforeSend hook, and nothing ever thrown into the page.
// When the page is hidden or closed (sendNow) spans leave at once, errors first, then web vitals,
// then the rest, as keepalive requests while the browser's 64 KB keepalive quota lasts and as
// beacons after it.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { encodeRequest, encodeResource, encodeSpan, scrubOutgoing, toOutgoing } from './encode.js';
import type { OutgoingSpan, TransportOptions } from './types.js';

export const DEFAULT_MAX_REQUEST_BYTES = 60_000;
export const DEFAULT_MAX_BACKOFF_MS = 60_000;
export const DEFAULT_MAX_QUEUED_REQUESTS = 10;
/** browsers refuse keepalive requests once 64 KiB of keepalive bodies are in flight; a margin kept */
export const KEEPALIVE_BUDGET_BYTES = 64_000;
/** a keepalive remainder smaller than this is not worth a request of its own: beacons take over */
const MIN_KEEPALIVE_CHUNK = 4_096;
/** a beacon's bytes are counted against the keepalive quota this long (its end cannot be observed) */
const BEACON_HOLD_MS = 10_000;
const RETRYABLE = new Set([429, 502, 503, 504]);
/** a request that failed on the network is tried this often in all */
const MAX_ATTEMPTS = 3;

export interface Transport extends SpanExporter {
  /** counts for tests and debugging: requests answered 2xx, beacons queued, spans or requests dropped, retries */
  readonly stats: { sent: number; beacons: number; dropped: number; retried: number };
  /**
   * Sends `spans` now, synchronously (the page is being hidden or closed: there may be no later):
   * errors first, then web vitals, then the rest; keepalive fetches within the quota, beacons after.
   * Requests waiting for a retry leave too.
   */
  sendNow(spans: ReadableSpan[]): void;
  /** resolves once the requests already started have settled */
  forceFlush(): Promise<void>;
}

interface Pending {
  body: string;
  bytes: number;
  attempts: number;
}

interface Encoded {
  scope: string;
  json: string;
  bytes: number;
  /** 0 an error, 1 a web vital, 2 anything else */
  priority: number;
}

/** 0 for an error (status ERROR or an exception event), 1 for a web vital, 2 for the rest. */
export function priorityOf(span: OutgoingSpan): number {
  if (span.status.code === 2 || span.events.some((e) => e.name === 'exception')) return 0;
  return span.attributes['browser.web_vital.name'] === undefined ? 2 : 1;
}

export function createTransport(options: TransportOptions): Transport {
  const maxBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const maxBackoff = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const maxQueued = options.maxQueuedRequests ?? DEFAULT_MAX_QUEUED_REQUESTS;
  const doFetch = options.fetch ?? originalFetch();
  const beacon = options.sendBeacon ?? pageBeacon();
  const encoder = new TextEncoder();
  const stats = { sent: 0, beacons: 0, dropped: 0, retried: 0 };
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
      for (const p of ready) send(p, false);
    }, Math.max(0, blockedUntil - Date.now()));
  };

  const backOff = (retryAfter: string | null): void => {
    failures++;
    const seconds = retryAfter === null ? NaN : Number(retryAfter);
    const fromHeader = Number.isFinite(seconds) ? seconds * 1000 : retryAfter ? Date.parse(retryAfter) - Date.now() : NaN;
    const exponential = Math.min(maxBackoff, 1000 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
    blockedUntil = Date.now() + Math.min(maxBackoff, Number.isFinite(fromHeader) && fromHeader > 0 ? fromHeader : exponential);
  };

  /**
   * Starts the request now (synchronously: at pagehide there is no later). Keepalive while the
   * quota lasts; past it, `urgent` requests go as beacons, others as plain fetches.
   */
  const send = (p: Pending, urgent: boolean): void => {
    if (!urgent && Date.now() < blockedUntil) return enqueue(p);
    const keepalive = keepaliveBytes + p.bytes <= KEEPALIVE_BUDGET_BYTES;
    if (!keepalive && urgent && beacon) {
      try {
        if (beacon(options.url, p.body)) {
          // Fire and forget: the browser sends it, even after the page is gone. Browsers that count
          // beacons against the same quota (Chromium) refuse one past it: the fetch below then.
          stats.beacons++;
          keepaliveBytes += p.bytes;
          setTimeout(() => (keepaliveBytes -= p.bytes), BEACON_HOLD_MS);
          return;
        }
      } catch {
        // a beacon refused: the fetch below is the last try
      }
    }
    p.attempts++;
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

  /** Each span scrubbed, through beforeSend, encoded once; a span the hook drops or fails on is left out. */
  const encode = (spans: ReadableSpan[]): Encoded[] => {
    const out: Encoded[] = [];
    for (const span of spans) {
      let outgoing = scrubOutgoing(toOutgoing(span));
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
      out.push({ scope: outgoing.scope, json, bytes: encoder.encode(json).length + 1, priority: priorityOf(outgoing) });
    }
    return out;
  };

  /**
   * Packs spans into request bodies grouped by scope, each under the limit `limit()` gives when it
   * starts, and hands each to `emit` as soon as it is complete (so the next limit sees it sent).
   */
  const pack = (spans: ReadableSpan[], limit: () => number, emit: (p: Pending) => void, byPriority: boolean): void => {
    const first = spans[0];
    if (!first) return;
    if (resourceOf?.[0] !== first.resource) resourceOf = [first.resource, encodeResource(first.resource.attributes)];
    const resource = resourceOf[1];
    const envelope = encoder.encode(encodeRequest(resource, new Map())).length;
    const items = encode(spans);
    if (byPriority) items.sort((a, b) => a.priority - b.priority); // stable: the order within a priority stays
    let scopes = new Map<string, string[]>();
    let bytes = envelope;
    let max = limit();
    const close = (): void => {
      if (scopes.size === 0) return;
      const body = encodeRequest(resource, scopes);
      scopes = new Map();
      bytes = envelope;
      emit({ body, bytes: encoder.encode(body).length, attempts: 0 });
      max = limit();
    };
    for (const item of items) {
      const cost = item.bytes + (scopes.has(item.scope) ? 0 : item.scope.length + 40); // {"scope":{"name":…},"spans":[]},
      const alone = envelope + item.bytes + item.scope.length + 40;
      if (alone > maxBytes) {
        stats.dropped++; // one span larger than a request: it can never be sent
        continue;
      }
      if (bytes + cost > max) close();
      if (scopes.size === 0 && alone > max) max = maxBytes; // too big for the keepalive remainder: a beacon then
      const list = scopes.get(item.scope);
      if (list) list.push(item.json);
      else scopes.set(item.scope, [item.json]);
      bytes += list ? item.bytes : item.bytes + item.scope.length + 40;
    }
    close();
  };

  return {
    stats,
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      let result: ExportResult = { code: ExportResultCode.SUCCESS };
      try {
        if (closed) result = { code: ExportResultCode.FAILED };
        else pack(spans, () => maxBytes, (p) => send(p, false), false);
      } catch {
        result = { code: ExportResultCode.FAILED };
      }
      try {
        done(result);
      } catch {
        // the processor's callback is not ours to fail
      }
    },
    sendNow(spans: ReadableSpan[]): void {
      if (closed) return;
      try {
        // What is left of the keepalive quota first, in requests that fill it; beacons of up to maxBytes after.
        const limit = (): number => {
          const left = KEEPALIVE_BUDGET_BYTES - keepaliveBytes;
          return left >= MIN_KEEPALIVE_CHUNK ? Math.min(maxBytes, left) : maxBytes;
        };
        pack(spans, limit, (p) => send(p, true), true);
        const waiting = queue;
        queue = [];
        clearTimeout(timer);
        timer = undefined;
        for (const p of waiting) send(p, true);
      } catch {
        // nothing is thrown into the page's pagehide
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

/** navigator.sendBeacon with a JSON body, where there is one. */
function pageBeacon(): ((url: string, body: string) => boolean) | undefined {
  if (typeof navigator === 'undefined' || typeof navigator.sendBeacon !== 'function') return undefined;
  return (url, body) => navigator.sendBeacon(url, new Blob([body], { type: 'application/json' }));
}

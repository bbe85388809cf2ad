// Events from runtime_metrics turned into exact counters and histograms. Rows are read with a
// settled cursor, (tx, id) > last AND tx < the oldest running transaction, so a row whose
// transaction commits late is read when it commits, never skipped, never read twice.
// Counters start at 0 with the process (a restart is an ordinary counter reset) and are fed
// only with settled rows. Row shapes per event_type: sql/README.md.
import { Counter, Histogram } from 'prom-client';
import { LabelCap, routeTemplate, type RoutePattern } from '../labels.js';
import { FirstSampleGate } from './first-sample.js';
import { optionalGauge } from './optional-gauge.js';
import type { CollectorFactory, Queryable } from './types.js';

export interface EventsOptions {
  /** rows read per query */
  batchSize: number;
  /** batches per scrape at most; a larger backlog is read over the following scrapes */
  maxBatchesPerScrape: number;
  /** on start, count the events of this many seconds back; 0 starts at the end of the table */
  lookbackSeconds: number;
  /** distinct values per label before the rest fold into "other" */
  labelValueLimit: number;
  routePatterns: readonly RoutePattern[];
}

export const KNOWN_EVENT_TYPES = [
  'page_view',
  'api_latency',
  'error',
  'user_action',
  'performance',
  'edge_function',
  'order_event',
  'payment_failure',
  'auto_heal',
  'deployment',
  'backup',
  'restore',
  'maintenance',
] as const;

export const AUTO_HEAL_ACTIONS = ['preparing_to_ready', 'ready_to_completed'] as const;

/** Where the cursor starts: the oldest transaction still running, so every later commit counts. */
export const START_AT_END = `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS tx`;

export const START_AT_LOOKBACK = `
SELECT coalesce(min(tx), pg_snapshot_xmin(pg_current_snapshot()))::text AS tx
  FROM public.runtime_metrics
 WHERE created_at >= now() - make_interval(secs => $1)`;

// ORDER BY names the table's columns (m.tx, m.id): a bare "id" would mean the text output
// column, and order ids as strings.
export const READ_SETTLED = `
SELECT m.id::text AS id, m.tx::text AS tx, m.created_at, m.event_type, m.event_data
  FROM public.runtime_metrics m
 WHERE (m.tx, m.id) > ($1::xid8, $2::bigint)
   AND m.tx < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY m.tx, m.id
 LIMIT $3`;

/** Rows behind the cursor (not yet settled, or settled and not yet read), counted up to a cap. */
export const PENDING_CAP = 100_000;
export const COUNT_PENDING = `
SELECT count(*)::integer AS n
  FROM (SELECT 1 FROM public.runtime_metrics
         WHERE (tx, id) > ($1::xid8, $2::bigint)
         LIMIT ${PENDING_CAP}) behind`;

export const STORES = `SELECT store_id::text AS id, store FROM observability.stores`;

interface EventRow {
  id: string;
  tx: string;
  created_at: Date;
  event_type: string;
  event_data: unknown;
}

// Web vitals: the metric names of the performance rows, their units and the published
// good / poor thresholds (used when a row carries no rating), as bucket boundaries too.
const VITALS = {
  LCP: { name: 'cc_web_vital_lcp_seconds', scale: 1e-3, good: 2.5, poor: 4, buckets: [0.5, 1, 1.5, 2, 2.5, 3, 4, 6, 10, 20] },
  INP: { name: 'cc_web_vital_inp_seconds', scale: 1e-3, good: 0.2, poor: 0.5, buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5] },
  FCP: { name: 'cc_web_vital_fcp_seconds', scale: 1e-3, good: 1.8, poor: 3, buckets: [0.5, 1, 1.8, 2.5, 3, 4, 6, 10] },
  TTFB: { name: 'cc_web_vital_ttfb_seconds', scale: 1e-3, good: 0.8, poor: 1.8, buckets: [0.1, 0.2, 0.4, 0.8, 1.2, 1.8, 3, 6] },
  CLS: { name: 'cc_web_vital_cls', scale: 1, good: 0.1, poor: 0.25, buckets: [0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1] },
} as const;
type VitalName = keyof typeof VITALS;
const RATINGS = ['good', 'needs-improvement', 'poor'];

const DURATION_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];
const COMPLETION_BUCKETS = [300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 14400];
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

export const createEventsCollector: CollectorFactory<EventsOptions> = (registry, options) => {
  const registers = [registry];
  const events = new Counter({
    name: 'cc_events_total',
    help: 'Rows of runtime_metrics counted, by event type.',
    labelNames: ['event_type'],
    registers,
  });
  const pending = optionalGauge({
    name: 'cc_events_pending',
    help: `Rows of runtime_metrics behind the cursor: not yet settled or not yet read (counted up to ${PENDING_CAP}).`,
    registers,
  });
  const pageViews = new Counter({ name: 'cc_page_views_total', help: 'Page views, by route template.', labelNames: ['page'], registers });
  const apiDuration = new Histogram({
    name: 'cc_api_request_duration_seconds',
    help: 'API requests made by the app, by endpoint template, method and status class.',
    labelNames: ['endpoint', 'method', 'status_class'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const errors = new Counter({ name: 'cc_frontend_errors_total', help: 'Errors in the browser app, by type.', labelNames: ['error_type'], registers });
  const actions = new Counter({ name: 'cc_user_actions_total', help: 'User actions, by action.', labelNames: ['action'], registers });
  const vitals = Object.fromEntries(
    Object.entries(VITALS).map(([metric, v]) => [
      metric,
      new Histogram({
        name: v.name,
        help: `Web vital ${metric}${v.scale === 1 ? ' (unitless)' : ''}, by page and rating.`,
        labelNames: ['page', 'rating'],
        buckets: [...v.buckets],
        registers,
      }),
    ]),
  ) as Record<VitalName, Histogram<string>>;
  const edgeDuration = new Histogram({
    name: 'cc_edge_function_duration_seconds',
    help: 'Edge function executions, by function and status.',
    labelNames: ['function', 'status'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const transitions = new Counter({
    name: 'cc_order_transitions_total',
    help: 'Order status changes, by store, from and to status ("none" for a new order).',
    labelNames: ['store', 'from', 'to'],
    registers,
  });
  const completion = new Histogram({
    name: 'cc_order_completion_duration_seconds',
    help: 'Time from order creation to completion, by store.',
    labelNames: ['store'],
    buckets: COMPLETION_BUCKETS,
    registers,
  });
  const revenue = new Counter({ name: 'cc_order_revenue_total', help: 'Totals of completed orders, by store.', labelNames: ['store'], registers });
  const paymentFailures = new Counter({
    name: 'cc_payment_failures_total',
    help: 'Failed payments, by provider and reason.',
    labelNames: ['provider', 'reason'],
    registers,
  });
  const autoHeal = new Counter({ name: 'cc_auto_heal_actions_total', help: 'Orders corrected by auto-heal, by action.', labelNames: ['action'], registers });

  const gate = new FirstSampleGate();
  const cap = new LabelCap(options.labelValueLimit);
  for (const event_type of KNOWN_EVENT_TYPES) {
    events.inc({ event_type }, 0);
    gate.markKnown('cc_events_total', { event_type });
  }
  for (const action of AUTO_HEAL_ACTIONS) {
    autoHeal.inc({ action }, 0);
    gate.markKnown('cc_auto_heal_actions_total', { action });
  }

  let cursor: { tx: string; id: string } | undefined;
  let stores = new Map<string, string>();
  let inFlight: Promise<void> | undefined;

  const page = (raw: unknown) => cap.value('page', routeTemplate(raw, options.routePatterns));
  const storeOf = (storeId: unknown) => (typeof storeId === 'string' ? stores.get(storeId) : undefined);

  /** Feed one settled row into the series; returns nothing, never throws on bad data. */
  function count(row: EventRow, storeName: (id: unknown) => string): void {
    const type = cap.value('event_type', row.event_type, KNOWN_EVENT_TYPES);
    gate.inc(events, { event_type: type });
    const d = (row.event_data !== null && typeof row.event_data === 'object' ? row.event_data : {}) as Record<string, unknown>;
    switch (row.event_type) {
      case 'page_view':
        gate.inc(pageViews, { page: page(d.page) });
        return;
      case 'api_latency': {
        const latencyMs = nonNegative(d.latency_ms);
        const statusClass = toStatusClass(d.status);
        if (latencyMs === undefined || statusClass === undefined) return;
        const method = typeof d.method === 'string' && HTTP_METHODS.includes(d.method.toUpperCase()) ? d.method.toUpperCase() : 'unknown';
        const endpoint = cap.value('endpoint', routeTemplate(d.endpoint, options.routePatterns));
        gate.observe(apiDuration, { endpoint, method, status_class: statusClass }, latencyMs / 1000);
        return;
      }
      case 'error':
        gate.inc(errors, { error_type: cap.value('error_type', d.error_type) });
        return;
      case 'user_action':
        gate.inc(actions, { action: cap.value('action', d.action) });
        return;
      case 'performance': {
        const metric = typeof d.metric === 'string' ? (d.metric.toUpperCase() as VitalName) : undefined;
        const vital = metric && metric in VITALS ? VITALS[metric] : undefined;
        const raw = nonNegative(d.value);
        if (!metric || !vital || raw === undefined) return; // FID from old clients: counted above only
        const value = raw * vital.scale;
        const rating =
          typeof d.rating === 'string' && RATINGS.includes(d.rating) ? d.rating : value <= vital.good ? 'good' : value <= vital.poor ? 'needs-improvement' : 'poor';
        gate.observe(vitals[metric], { page: page(d.page), rating }, value);
        return;
      }
      case 'edge_function': {
        const ms = nonNegative(d.execution_time_ms);
        if (ms === undefined) return;
        const labels = { function: cap.value('function', d.function_name), status: cap.value('edge_status', d.status) };
        gate.observe(edgeDuration, labels, ms / 1000);
        return;
      }
      case 'order_event': {
        if (typeof d.to !== 'string') return;
        const store = cap.value('store', storeName(d.store_id));
        const from = cap.value('order_status', typeof d.from === 'string' ? d.from : 'none');
        const to = cap.value('order_status', d.to);
        gate.inc(transitions, { store, from, to });
        if (d.to !== 'completed') return;
        const total = nonNegative(d.total);
        if (total !== undefined) gate.inc(revenue, { store }, total);
        const createdAt = typeof d.order_created_at === 'string' ? Date.parse(d.order_created_at) : NaN;
        const seconds = (row.created_at.getTime() - createdAt) / 1000;
        if (Number.isFinite(seconds) && seconds >= 0) gate.observe(completion, { store }, seconds);
        return;
      }
      case 'payment_failure':
        gate.inc(paymentFailures, { provider: cap.value('provider', d.provider), reason: cap.value('reason', d.reason) });
        return;
      case 'auto_heal':
        gate.inc(autoHeal, { action: cap.value('auto_heal_action', d.action, AUTO_HEAL_ACTIONS) });
        return;
      default:
        return;
    }
  }

  async function refreshStores(db: Queryable): Promise<void> {
    const { rows } = await db.query<{ id: string; store: string }>(STORES);
    stores = new Map(rows.map((r) => [r.id, r.store]));
  }

  async function collectOnce(db: Queryable): Promise<void> {
    gate.release();
    if (!cursor) {
      const { rows } = options.lookbackSeconds > 0
        ? await db.query<{ tx: string }>(START_AT_LOOKBACK, [options.lookbackSeconds])
        : await db.query<{ tx: string }>(START_AT_END);
      cursor = { tx: rows[0]!.tx, id: '0' };
    }
    let storesRefreshed = false;
    for (let batch = 0; batch < options.maxBatchesPerScrape; batch++) {
      const { rows }: { rows: EventRow[] } = await db.query<EventRow>(READ_SETTLED, [cursor.tx, cursor.id, options.batchSize]);
      if (rows.length === 0) break;
      // A store created after the last lookup: look again, once per scrape.
      const unknownStore = rows.some((r) => r.event_type === 'order_event' && storeOf((r.event_data as { store_id?: unknown })?.store_id) === undefined);
      if (unknownStore && !storesRefreshed) {
        await refreshStores(db);
        storesRefreshed = true;
      }
      // Everything below is synchronous: the counts and the cursor move together.
      for (const row of rows) count(row, (id) => storeOf(id) ?? 'unknown');
      const last: EventRow = rows[rows.length - 1]!;
      cursor = { tx: last.tx, id: last.id };
      if (rows.length < options.batchSize) break;
    }
    const { rows } = await db.query<{ n: number }>(COUNT_PENDING, [cursor.tx, cursor.id]);
    pending.set(rows[0]?.n ?? 0);
  }

  return {
    name: 'events',
    collect(db) {
      // Single-flight even when called outside the scraper: two reads from one cursor would count twice.
      inFlight ??= collectOnce(db).finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    // Counted events stay counted when Postgres is away: dropping the counters would only fake
    // a counter reset. The backlog gauge is a live reading, so it goes.
    clear() {
      pending.clear();
    },
  };
};

/** A finite, non-negative number from a number or a numeric string. */
function nonNegative(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** 2xx 3xx 4xx 5xx, or network for status 0; anything else is not a response status. */
function toStatusClass(value: unknown): string | undefined {
  const status = nonNegative(value);
  if (status === undefined || !Number.isInteger(status)) return undefined;
  if (status === 0) return 'network';
  if (status >= 200 && status < 600) return `${Math.floor(status / 100)}xx`;
  return undefined;
}

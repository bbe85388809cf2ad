// Events from runtime_metrics turned into exact counters and histograms. Rows are read with a
// settled cursor, (tx, id) > last AND tx < the oldest running transaction, so a row whose
// transaction commits late is read when it commits, never skipped, never read twice.
// The cursor and the counts are checkpointed to observability.event_counter_state; a new
// process starts from the last checkpoint and reads every row settled since before it serves,
// so a restart or another replica loses no row, counts none twice, and no counter goes down.
// Row shapes per event_type: sql/README.md.
import pg from 'pg';
import { labelValue, routeTemplate, type RoutePattern } from '../text.js';
import type { Logger } from '../log.js';
import { CorruptCountsError, EventCounts, registerCounts, withAddedLabels, type Labels, type MetricSpec } from './event-counts.js';
import { optionalGauge } from './optional-gauge.js';
import { OVERFLOW_VALUE, SeriesBudget, type IsKnown } from './series-budget.js';
import type { Queryable } from '../db.js';
import type { CollectorFactory } from './types.js';

export interface EventsOptions {
  /** rows read per query */
  batchSize: number;
  /** batches per scrape at most; a larger backlog is read over the following scrapes */
  maxBatchesPerScrape: number;
  /** ms between two commits of the cursor and counts (0: every scrape); a new process recounts the rows since the last one */
  checkpointIntervalMs: number;
  /** the first start on a database (no committed counts yet) also counts this many seconds back; 0 starts at the end */
  lookbackSeconds: number;
  /** series per metric family whose labels come from rows (SERIES_BUDGET_DEFAULTS, SERIES_BUDGETS) */
  seriesBudgets: Readonly<Record<string, number>>;
  /** an unknown series not counted for this long (in row time) may give its place to a new one */
  seriesIdleMs: number;
  routePatterns: readonly RoutePattern[];
  /** service.name values of the app's own telemetry (SERVICE_NAMES): the known values of the service label */
  serviceNames?: readonly string[];
  /** this exporter's name, recorded with each commit of the counts */
  instance: string;
  logger?: Logger;
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
const ORDER_STATUSES = ['none', 'pending', 'confirmed', 'preparing', 'ready', 'completed', 'cancelled'];

/**
 * Series per family (label sets) for the families whose label values come from rows, so that a
 * flood of values cannot grow the scrape past a known size (series-budget.ts). With every family
 * flooded, the browser-fed ones (anyone holding the anon key) come to about 3,300 samples
 * (a histogram series is its buckets + 3), the server-fed ones to about 1,800 more.
 */
export const SERIES_BUDGET_DEFAULTS: Readonly<Record<string, number>> = {
  cc_events_total: 30,
  cc_events_restored_total: 30,
  cc_page_views_total: 200,
  cc_api_request_duration_seconds: 100,
  cc_frontend_errors_total: 100,
  cc_user_actions_total: 100,
  cc_web_vital_lcp_seconds: 30,
  cc_web_vital_inp_seconds: 30,
  cc_web_vital_fcp_seconds: 30,
  cc_web_vital_ttfb_seconds: 30,
  cc_web_vital_cls: 30,
  cc_edge_function_duration_seconds: 30,
  cc_order_transitions_total: 300,
  cc_order_completion_duration_seconds: 50,
  cc_order_revenue_total: 50,
  cc_payment_failures_total: 50,
  cc_auto_heal_actions_total: 10,
};

/**
 * Labels from the telemetry's resource (service.name, deployment.environment.name,
 * service.version) on the families the browser and the edge functions feed, so that staging never
 * mixes with production and a release can be compared with the one before it. Rows without them
 * (the app's own writers) read "unknown". Known values, which a flood can never starve: the
 * services of SERVICE_NAMES, the environments of deployment_log, and the versions (or commits)
 * of its latest RECENT_RELEASES deployments per environment. In an overflow they read "other" too.
 */
export const DIMENSIONS = ['service', 'env', 'release'] as const;
export const RECENT_RELEASES = 3;
/** web-otel's and edge/'s default service.name */
export const DEFAULT_SERVICE_NAMES: readonly string[] = ['web', 'edge-functions'];
export const KNOWN_DEPLOYMENTS = `
SELECT environment, version, commit_sha FROM (
  SELECT environment, version, commit_sha,
         row_number() OVER (PARTITION BY environment ORDER BY deployed_at DESC, id DESC) AS n
    FROM public.deployment_log) d
 WHERE n <= ${RECENT_RELEASES}`;

/** Where the cursor starts: the oldest transaction still running, so every later commit counts. */
export const START_AT_END = `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS tx`;

export const START_AT_LOOKBACK = `
SELECT coalesce(min(tx), pg_snapshot_xmin(pg_current_snapshot()))::text AS tx
  FROM public.runtime_metrics
 WHERE created_at >= now() - make_interval(secs => $1)`;

// ORDER BY names the table's columns (m.tx, m.id): a bare "id" would mean the text output
// column, and order ids as strings.
export const READ_SETTLED = `
SELECT m.id::text AS id, m.tx::text AS tx, m.created_at, m.event_type, m.event_data,
       m.created_at > now() + interval '5 minutes' AS future
  FROM public.runtime_metrics m
 WHERE (m.tx, m.id) > ($1::xid8, $2::bigint)
   AND m.tx < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY m.tx, m.id
 LIMIT $3`;

/** Rows behind the cursor (not yet settled, or settled and not yet read), counted up to a cap. */
export const PENDING_CAP = 100_000;
// With the first row behind the cursor (in cursor order), whose wait the exporter times itself:
// created_at may come from a browser, so it says nothing about how long a row has waited.
export const COUNT_PENDING = `
SELECT (SELECT count(*)::integer
          FROM (SELECT 1 FROM public.runtime_metrics
                 WHERE (tx, id) > ($1::xid8, $2::bigint)
                 LIMIT ${PENDING_CAP}) behind) AS n,
       (SELECT m.tx::text || ':' || m.id::text FROM public.runtime_metrics m
         WHERE (m.tx, m.id) > ($1::xid8, $2::bigint)
         ORDER BY m.tx, m.id LIMIT 1) AS first`;

export const STORES = `SELECT store_id::text AS id, store FROM observability.stores`;

/** A runtime_metrics row as READ_SETTLED reads it (the receiver's rows to insert are ingest/spans.ts' NewEventRow). */
export interface EventRow {
  id: string;
  tx: string;
  created_at: Date;
  event_type: string;
  event_data: unknown;
  /** dated more than 5 minutes ahead of the database's clock: forged or a broken clock */
  future?: boolean;
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
/** network: no answer (status 0); aborted: still pending when its page closed (neither a success nor a failure) */
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'network', 'aborted'] as const;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** Every exporter on a database shares one counted state (see sql/migrations/009). */
export const STATE_NAME = 'default';

export const STATE_TABLE_EXISTS = `
SELECT to_regclass('observability.event_counter_state') IS NOT NULL
   AND to_regprocedure('observability.quarantine_foreign_events()') IS NOT NULL AS ok`;

/** This cluster, and where its transaction counter stands, without taking a transaction id. */
export const SNAPSHOT = `
SELECT observability.cluster_identity() AS cluster,
       pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text AS xmax`;

/** Whether any row carries a tx this cluster has not reached (the newest tx is the end of the (tx, id) index). */
export const FOREIGN_ROWS = `
SELECT coalesce((SELECT max(m.tx) FROM public.runtime_metrics m) >= pg_snapshot_xmax(pg_current_snapshot()), false) AS foreign_rows`;

// The counts travel only when they changed since the version this process holds.
const STATE_COLUMNS = `cluster, tx::text AS tx, id::text AS id, version::text AS version,
       CASE WHEN version = $2::bigint THEN NULL ELSE counts END AS counts`;
export const LOCK_STATE = `
SELECT ${STATE_COLUMNS}
  FROM observability.event_counter_state WHERE name = $1
   FOR UPDATE SKIP LOCKED`;
export const READ_STATE = `
SELECT ${STATE_COLUMNS}
  FROM observability.event_counter_state WHERE name = $1`;
export const INSERT_STATE = `
INSERT INTO observability.event_counter_state (name, cluster, tx, id, counts, updated_by)
VALUES ($1, $2, $3::xid8, $4::bigint, $5::json, $6)
ON CONFLICT (name) DO NOTHING`;
/** Writes the checkpoint over version $7, the one the same transaction locked. */
export const UPDATE_STATE = `
UPDATE observability.event_counter_state
   SET cluster = $2, tx = $3::xid8, id = $4::bigint, counts = $5::json,
       version = version + 1, updated_at = now(), updated_by = $6
 WHERE name = $1 AND version = $7::bigint
RETURNING version::text AS version`;
export const QUARANTINE_FOREIGN = `SELECT event_type, n::text AS n FROM observability.quarantine_foreign_events()`;

/** Why a committed cursor was not trusted. */
export const RESET_REASONS = ['cluster_changed', 'cursor_ahead', 'corrupt'] as const;
/** Why a row was read and not counted. */
export const IGNORE_REASONS = ['dated_in_future'] as const;
type ResetReason = (typeof RESET_REASONS)[number];

const RESET_MEANING: Record<ResetReason, string> = {
  cluster_changed: 'the database cluster changed (a restore into another cluster, or pg_upgrade): its transaction ids are not the ones of the cursor',
  cursor_ahead: "the cursor is ahead of this cluster's transaction counter (it comes from another cluster)",
  corrupt: 'the committed counts are unreadable',
};

interface Cursor {
  tx: string;
  id: string;
}

/** A counted state this process knows: committed (version), or its own (memory mode). */
interface Held {
  version: string;
  /** the cluster the cursor belongs to ('' in memory mode) */
  cluster: string;
  cursor: Cursor;
  counts: EventCounts;
  budget: SeriesBudget;
}

interface StateRow {
  cluster: string;
  tx: string;
  id: string;
  version: string;
  counts: unknown;
}

const MEMORY_RECHECK_MS = 60_000;
/** catching up after a start reads this many times maxBatchesPerScrape per scrape */
const CATCH_UP_FACTOR = 10;

/** Is cursor a before cursor b in (tx, id) order? */
function isBefore(a: Cursor, b: Cursor): boolean {
  const [atx, btx] = [BigInt(a.tx), BigInt(b.tx)];
  return atx < btx || (atx === btx && BigInt(a.id) < BigInt(b.id));
}

export const createEventsCollector: CollectorFactory<EventsOptions> = (registry, options) => {
  const registers = [registry];
  const log = options.logger?.child({ collector: 'events' });
  const specs = new Map<string, MetricSpec>(
    [
      { name: 'cc_events_total', help: 'Rows of runtime_metrics counted, by event type.', type: 'counter', labelNames: ['event_type'] },
      { name: 'cc_page_views_total', help: 'Page views, by route template, service, environment and release.', type: 'counter', labelNames: ['page', ...DIMENSIONS] },
      {
        name: 'cc_api_request_duration_seconds',
        help: 'API requests made by the app, by endpoint template, method, status class, service, environment and release.',
        type: 'histogram',
        labelNames: ['endpoint', 'method', 'status_class', ...DIMENSIONS],
        buckets: DURATION_BUCKETS,
      },
      {
        name: 'cc_api_requests_total',
        help: 'API requests made by the app, by status class; every class exists from the start, for the error-ratio alert.',
        type: 'counter',
        labelNames: ['status_class'],
      },
      { name: 'cc_frontend_errors_total', help: 'Errors in the browser app, by type, service, environment and release.', type: 'counter', labelNames: ['error_type', ...DIMENSIONS] },
      { name: 'cc_user_actions_total', help: 'User actions, by action, service, environment and release.', type: 'counter', labelNames: ['action', ...DIMENSIONS] },
      ...Object.entries(VITALS).map(([metric, v]): MetricSpec => ({
        name: v.name,
        help: `Web vital ${metric}${v.scale === 1 ? ' (unitless)' : ''}, by page, rating, service, environment and release.`,
        type: 'histogram',
        labelNames: ['page', 'rating', ...DIMENSIONS],
        buckets: v.buckets,
      })),
      {
        name: 'cc_edge_function_duration_seconds',
        help: 'Edge function executions, by function, status, service, environment and release.',
        type: 'histogram',
        labelNames: ['function', 'status', ...DIMENSIONS],
        buckets: DURATION_BUCKETS,
      },
      {
        name: 'cc_order_transitions_total',
        help: 'Order status changes, by store, from and to status ("none" for a new order).',
        type: 'counter',
        labelNames: ['store', 'from', 'to'],
      },
      {
        name: 'cc_order_completion_duration_seconds',
        help: 'Time from order creation to completion, by store.',
        type: 'histogram',
        labelNames: ['store'],
        buckets: COMPLETION_BUCKETS,
      },
      { name: 'cc_order_revenue_total', help: 'Totals of completed orders, by store.', type: 'counter', labelNames: ['store'] },
      { name: 'cc_payment_failures_total', help: 'Failed payments, by provider and reason.', type: 'counter', labelNames: ['provider', 'reason'] },
      { name: 'cc_auto_heal_actions_total', help: 'Orders corrected by auto-heal, by action.', type: 'counter', labelNames: ['action'] },
      {
        name: 'cc_events_restored_total',
        help: 'Rows of runtime_metrics from another database cluster (a restored dump), counted as history and never as new events, by event type.',
        type: 'counter',
        labelNames: ['event_type'],
      },
      {
        name: 'cc_label_overflow_total',
        help: 'Label sets counted under "other" because their metric family had used its series budget (SERIES_BUDGETS), by family.',
        type: 'counter',
        labelNames: ['family'],
      },
      {
        name: 'cc_events_ignored_total',
        help: 'Rows of runtime_metrics read and not counted anywhere else, by reason (dated_in_future: more than 5 minutes ahead of the database clock, forged or a broken clock).',
        type: 'counter',
        labelNames: ['reason'],
      },
      {
        name: 'cc_events_cursor_resets_total',
        help: 'Times the committed event cursor did not fit the database and was moved to its end, by reason.',
        type: 'counter',
        labelNames: ['reason'],
      },
    ].map((spec) => [spec.name, { ...spec, addedLabels: spec.labelNames.filter((n) => (DIMENSIONS as readonly string[]).includes(n)) } as MetricSpec]),
  );
  const pending = optionalGauge({
    name: 'cc_events_pending',
    help: `Rows of runtime_metrics behind the cursor: not yet settled or not yet read (counted up to ${PENDING_CAP}).`,
    registers,
  });
  const oldestPending = optionalGauge({
    name: 'cc_events_oldest_pending_age_seconds',
    help: 'How long the first row behind the cursor has been waiting to be counted, as this exporter saw it (0 when none waits).',
    registers,
  });
  /** the first row behind the cursor and since when this process has seen it there */
  let firstPending: { key: string; since: number } | undefined;
  const persistedGauge = optionalGauge({
    name: 'cc_events_counts_persisted',
    help: 'Whether the event counts are committed to Postgres (1), or kept in this process only because migration 009 is missing (0).',
    registers,
  });

  /** The known label sets, at 0: a counter an alert reads exists before its first event. */
  function initialCounts(): EventCounts {
    const counts = new EventCounts(specs);
    for (const event_type of KNOWN_EVENT_TYPES) counts.inc('cc_events_total', { event_type }, 0);
    for (const action of AUTO_HEAL_ACTIONS) counts.inc('cc_auto_heal_actions_total', { action }, 0);
    for (const reason of RESET_REASONS) counts.inc('cc_events_cursor_resets_total', { reason }, 0);
    for (const reason of IGNORE_REASONS) counts.inc('cc_events_ignored_total', { reason }, 0);
    for (const family of Object.keys(options.seriesBudgets)) counts.inc('cc_label_overflow_total', { family }, 0);
    for (const status_class of STATUS_CLASSES) counts.inc('cc_api_requests_total', { status_class }, 0);
    return counts;
  }

  let held: Held | undefined;
  /** what the registry renders; undefined until the committed counts are read */
  let served: EventCounts | undefined;
  registerCounts(registry, specs, () => served);

  let mode: 'persisted' | 'memory' | undefined;
  /** whether this process has read every row settled since its start (it serves only then) */
  let caughtUp = false;
  let lastCheckpoint = 0;
  let nextModeCheck = 0;
  let stores = new Map<string, string>();
  let storeSlugs = new Set<string>();
  const knownServices = new Set(options.serviceNames ?? DEFAULT_SERVICE_NAMES);
  let knownEnvs = new Set<string>();
  let knownReleases = new Set<string>();
  /** the deployments were read (they are read again when a row names an environment or release not among them) */
  let deploymentsRead = false;
  let inFlight: Promise<void> | undefined;

  const storeOf = (storeId: unknown) => (typeof storeId === 'string' ? stores.get(storeId) : undefined);

  const budgetOptions = { budgets: new Map(Object.entries(options.seriesBudgets)), idleMs: options.seriesIdleMs };
  const declaredRoutes = new Set(['/', ...options.routePatterns.map((p) => p.template)]);
  /** Which label values of a family are closed sets, never a row's to choose (series-budget.ts). */
  const knownIn = (family: string): IsKnown => (label, value) => {
    switch (label) {
      case 'page':
      case 'endpoint':
        return declaredRoutes.has(value);
      case 'method':
      case 'status_class':
      case 'rating':
        return true; // the collector maps these onto closed sets itself
      case 'event_type':
        return (KNOWN_EVENT_TYPES as readonly string[]).includes(value);
      case 'store':
        return storeSlugs.has(value);
      case 'from':
      case 'to':
        return ORDER_STATUSES.includes(value);
      case 'action':
        return family === 'cc_auto_heal_actions_total' && (AUTO_HEAL_ACTIONS as readonly string[]).includes(value);
      case 'status':
        return value === 'success' || value === 'error';
      case 'service':
        return knownServices.has(value);
      case 'env':
        return knownEnvs.has(value);
      case 'release':
        return knownReleases.has(value);
      default:
        return false;
    }
  };

  /** The labels a row is counted under in a family, within its series budget. */
  function admitted(counts: EventCounts, budget: SeriesBudget, family: string, labels: Labels, at?: number): Labels {
    const ordered = Object.fromEntries(specs.get(family)!.labelNames.map((n) => [n, labels[n] ?? 'unknown']));
    const admission = budget.admit(family, ordered, knownIn(family), at);
    for (const gone of admission.evicted) counts.remove(family, gone);
    if (!admission.overflowed) return admission.labels;
    counts.inc('cc_label_overflow_total', { family });
    // Folded series stand outside the budget: with their dimensions folded too, there are no
    // more of them than before the dimensions came.
    const folded = { ...admission.labels };
    for (const name of DIMENSIONS) if (name in folded) folded[name] = OVERFLOW_VALUE;
    return folded;
  }

  /** Feed one settled row into the counts; never throws on bad data. */
  function count(counts: EventCounts, budget: SeriesBudget, row: EventRow, storeName: (id: unknown) => string): void {
    const at = row.created_at.getTime();
    for (const sample of eventSamples(row, { routePatterns: options.routePatterns, storeName })) {
      const labels = sample.budgeted ? admitted(counts, budget, sample.family, sample.labels, at) : sample.labels;
      if (sample.kind === 'inc') counts.inc(sample.family, labels, sample.value);
      else counts.observe(sample.family, labels, sample.value);
    }
  }

  async function refreshStores(db: Queryable): Promise<void> {
    const { rows } = await db.query<{ id: string; store: string }>(STORES);
    stores = new Map(rows.map((r) => [r.id, r.store]));
    storeSlugs = new Set(stores.values());
  }

  async function refreshDeployments(db: Queryable): Promise<void> {
    const { rows } = await db.query<{ environment: string; version: string | null; commit_sha: string | null }>(KNOWN_DEPLOYMENTS);
    knownEnvs = new Set(['production', ...rows.map((r) => labelValue(r.environment))]);
    knownReleases = new Set(rows.flatMap((r) => [r.version, r.commit_sha].filter((v): v is string => typeof v === 'string' && v !== '').map(labelValue)));
    deploymentsRead = true;
  }

  /** A browser or edge row whose environment or release is not among the known ones. */
  function namesUnknownDeployment(row: EventRow): boolean {
    const d = row.event_data as { env?: unknown; release?: unknown } | null;
    if (d === null || typeof d !== 'object') return false;
    return (typeof d.env === 'string' && !knownEnvs.has(labelValue(d.env))) || (typeof d.release === 'string' && !knownReleases.has(labelValue(d.release)));
  }

  async function startCursor(db: Queryable): Promise<Cursor> {
    const { rows } = options.lookbackSeconds > 0
      ? await db.query<{ tx: string }>(START_AT_LOOKBACK, [options.lookbackSeconds])
      : await db.query<{ tx: string }>(START_AT_END);
    return { tx: rows[0]!.tx, id: '0' };
  }

  /**
   * Reads the settled rows after the cursor, at most `batches` batches, counting them into the
   * held counts; returns how many rows it read.
   */
  async function readSettled(db: Queryable, into: Held, batches: number): Promise<number> {
    let total = 0;
    let storesRefreshed = false;
    let deploymentsRefreshed = false;
    for (let batch = 0; batch < batches; batch++) {
      const { rows }: { rows: EventRow[] } = await db.query<EventRow>(READ_SETTLED, [into.cursor.tx, into.cursor.id, options.batchSize]);
      if (rows.length === 0) break;
      // A store created after the last lookup: look again, once per scrape.
      const unknownStore = rows.some((r) => r.event_type === 'order_event' && storeOf((r.event_data as { store_id?: unknown })?.store_id) === undefined);
      if (unknownStore && !storesRefreshed) {
        await refreshStores(db);
        storesRefreshed = true;
      }
      // A deploy since the last lookup: look again, once per scrape.
      if (!deploymentsRefreshed && (!deploymentsRead || rows.some(namesUnknownDeployment))) {
        await refreshDeployments(db);
        deploymentsRefreshed = true;
      }
      // Synchronous from here: the counts and the cursor move together.
      for (const row of rows) count(into.counts, into.budget, row, (id) => storeOf(id) ?? 'unknown');
      const last: EventRow = rows[rows.length - 1]!;
      into.cursor = { tx: last.tx, id: last.id };
      total += rows.length;
      if (rows.length < options.batchSize) break;
    }
    return total;
  }

  /** The committed state of a row, reusing this process's counts when the version is the same. */
  function fromRow(row: StateRow): Held {
    if (row.counts === null && held && held.version === row.version) return { ...held, cursor: { tx: row.tx, id: row.id } };
    const data = row.counts as { budget?: unknown } | null;
    const counts = EventCounts.fromData(specs, data);
    // Families added since the state was committed.
    for (const reason of IGNORE_REASONS) counts.inc('cc_events_ignored_total', { reason }, 0);
    for (const family of Object.keys(options.seriesBudgets)) counts.inc('cc_label_overflow_total', { family }, 0);
    const budget = new SeriesBudget(budgetOptions, upgradeBudgetData(data?.budget));
    // Counts committed before budgets (per-label caps): their series are adopted as long idle.
    if (data?.budget === undefined) for (const family of Object.keys(options.seriesBudgets)) budget.adopt(family, counts.seriesLabels(family));
    return { version: row.version, cluster: row.cluster, cursor: { tx: row.tx, id: row.id }, counts, budget };
  }

  /** Committed budget entries of series without the labels added since, keyed as the series now are. */
  function upgradeBudgetData(raw: unknown): unknown {
    const families = (raw as { families?: unknown } | null)?.families;
    if (families === null || typeof families !== 'object') return raw;
    const upgraded: Record<string, unknown> = {};
    for (const [family, entries] of Object.entries(families as Record<string, unknown>)) {
      const spec = specs.get(family);
      if (!spec?.addedLabels?.length || !Array.isArray(entries)) {
        upgraded[family] = entries;
        continue;
      }
      upgraded[family] = entries.map((entry: unknown) => {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') return entry;
        try {
          const labels = withAddedLabels(spec, JSON.parse(entry[0])) as Labels;
          return [JSON.stringify(Object.fromEntries(spec.labelNames.map((n) => [n, labels[n]]))), entry[1]];
        } catch {
          return entry;
        }
      });
    }
    return { ...(raw as object), families: upgraded };
  }

  function stateJson(counts: EventCounts, budget: SeriesBudget): string {
    return JSON.stringify({ ...counts.toData(), budget: budget.toJSON() });
  }

  /**
   * A scrape with the counts persisted. The counts are a function of the cursor (every settled
   * row before it, in (tx, id) order, caps included), so they need not be written by every scrape:
   * a checkpoint (cursor and counts) is committed every checkpointIntervalMs, and a new process
   * starts from the last one and reads every row settled since before it serves anything. What
   * it then serves counts at least every row any exporter served before: never less, never a row
   * twice. Replicas count the same rows the same way, and the furthest checkpoint wins.
   */
  async function collectPersisted(db: Queryable): Promise<void> {
    if (!held || held.version === 'memory') {
      await checkpoint(db); // the start: take the last checkpoint (or make the first)
      lastCheckpoint = Date.now();
    }
    const state = held!;
    // Catching up after a start reads up to CATCH_UP_FACTOR times more per scrape, served when done.
    const batches = caughtUp ? options.maxBatchesPerScrape : options.maxBatchesPerScrape * CATCH_UP_FACTOR;
    const rows = await readSettled(db, state, batches);
    if (!caughtUp && rows < batches * options.batchSize) {
      caughtUp = true;
      log?.info({ tx: state.cursor.tx, id: state.cursor.id }, 'event counts caught up with runtime_metrics: serving them');
    }
    if (Date.now() - lastCheckpoint >= options.checkpointIntervalMs) {
      await checkpoint(db);
      lastCheckpoint = Date.now();
    }
  }

  /**
   * One transaction: lock the checkpoint (create it on the first start here), check that it fits
   * this cluster, take it or this process's counts, whichever is further, re-stamp rows from
   * another cluster, and commit. Another exporter holding the lock just means a checkpoint now.
   */
  async function checkpoint(db: Queryable): Promise<void> {
    const result = await inTransaction(db, async (q): Promise<Held | undefined> => {
      let { rows: [snapshot] } = await q.query<{ cluster: string; xmin: string; xmax: string }>(SNAPSHOT);
      const knownVersion = held?.version === 'memory' ? '0' : (held?.version ?? '0');
      let { rows: [row] } = await q.query<StateRow>(LOCK_STATE, [STATE_NAME, knownVersion]);
      if (!row) {
        const { rows: [other] } = await q.query<StateRow>(READ_STATE, [STATE_NAME, knownVersion]);
        if (other) return held ? undefined : fromRow(other); // another exporter is writing one right now
        // The first exporter on this database (or the first since migration 009): from here on,
        // continuing what this process counted in memory, if anything.
        const cursor = held?.cursor ?? (await startCursor(q));
        const counts = held?.counts ?? initialCounts();
        const budget = held?.budget ?? new SeriesBudget(budgetOptions);
        await q.query(INSERT_STATE, [STATE_NAME, snapshot!.cluster, cursor.tx, cursor.id, stateJson(counts, budget), options.instance]);
        log?.info({ tx: cursor.tx, id: cursor.id }, 'event counts are committed to Postgres from now on');
        // The cursor was placed by a later statement (read committed: a snapshot each) than the
        // one above, and transactions of other databases may have begun and ended in between:
        // its tx can be past that snapshot's xmax. Checked against an earlier snapshot, the
        // cursor just placed would look ahead of this cluster and be reset (seen on a busy test
        // server); a snapshot taken after it is past it, as xmax never goes back.
        ({ rows: [snapshot] } = await q.query<{ cluster: string; xmin: string; xmax: string }>(SNAPSHOT));
        ({ rows: [row] } = await q.query<StateRow>(LOCK_STATE, [STATE_NAME, '0']));
        if (!row) return held ? undefined : fromRow((await q.query<StateRow>(READ_STATE, [STATE_NAME, '0'])).rows[0]!);
      }

      let committed: Held | undefined;
      const resets: ResetReason[] = [];
      try {
        committed = fromRow(row);
      } catch (err) {
        if (!(err instanceof CorruptCountsError)) throw err;
        resets.push('corrupt');
      }
      // A cursor placed in this cluster is at most the xmin of the snapshot that placed it, and
      // xmax never goes back; one from elsewhere is checked by the cluster's identity first. This
      // process's own cursor too: the database may have been swapped under it since it started.
      const own = held && held.version !== 'memory' ? held : undefined;
      const fits = (cluster: string, tx: string) => cluster === snapshot!.cluster && BigInt(tx) <= BigInt(snapshot!.xmax);
      const cursorFits = fits(row.cluster, row.tx) && (!own || fits(own.cluster, own.cursor.tx));
      if (!cursorFits) resets.push(row.cluster !== snapshot!.cluster || (own && own.cluster !== snapshot!.cluster) ? 'cluster_changed' : 'cursor_ahead');
      let state: Held;
      let changed = resets.length > 0;
      if (resets.length === 0) {
        state = own && !isBefore(own.cursor, committed!.cursor) ? own : committed!;
        changed = state === own && isBefore(committed!.cursor, own.cursor);
        // What another exporter committed that is not a function of the cursor (restored rows,
        // resets) stays, whoever's counts go on.
        if (state === own) for (const name of ['cc_events_restored_total', 'cc_events_cursor_resets_total']) changed = own.counts.raiseTo(committed!.counts, name) || changed;
      } else {
        // Keep the highest counts known, so that no counter goes down: this process's, else the
        // committed ones where they are readable.
        const base = own ?? committed;
        state = {
          version: row.version,
          cluster: snapshot!.cluster,
          cursor: cursorFits ? (base?.cursor ?? { tx: row.tx, id: row.id }) : { tx: snapshot!.xmin, id: '0' },
          counts: base?.counts.clone() ?? initialCounts(),
          budget: base?.budget.clone() ?? new SeriesBudget(budgetOptions),
        };
        for (const reason of resets) {
          state.counts.inc('cc_events_cursor_resets_total', { reason });
          log?.warn(
            { reason, cursor: { tx: row.tx, id: row.id }, cluster: { committed: row.cluster, now: snapshot!.cluster }, restartAt: cursorFits ? undefined : snapshot!.xmin },
            cursorFits
              ? `event counts reset: ${RESET_MEANING[reason]}; counting goes on from the cursor with the counts this process had (${own ? 'served before' : 'none: from 0'})`
              : `event cursor reset: ${RESET_MEANING[reason]}; counting resumes at the end of runtime_metrics, and rows committed before now that were not counted yet stay uncounted`,
          );
        }
      }

      const { rows: [check] } = await q.query<{ foreign_rows: boolean }>(FOREIGN_ROWS);
      if (check?.foreign_rows) {
        const { rows: foreign } = await q.query<{ event_type: string; n: string }>(QUARANTINE_FOREIGN);
        let n = 0;
        for (const f of foreign) {
          state.counts.inc('cc_events_restored_total', admitted(state.counts, state.budget, 'cc_events_restored_total', { event_type: labelValue(f.event_type) }), Number(f.n));
          n += Number(f.n);
          changed = true;
        }
        if (n > 0) {
          log?.warn(
            { rows: n, byType: Object.fromEntries(foreign.map((f) => [f.event_type, Number(f.n)])) },
            'rows of runtime_metrics carry transaction ids this cluster has not reached: they come from another cluster (a restored dump); counted as restored history in cc_events_restored_total, never as new events, and re-stamped tx 0',
          );
        }
      }

      if (changed) {
        const { rows: [updated] } = await q.query<{ version: string }>(UPDATE_STATE, [
          STATE_NAME, snapshot!.cluster, state.cursor.tx, state.cursor.id, stateJson(state.counts, state.budget), options.instance, row.version,
        ]);
        state = { ...state, version: updated!.version };
      }
      return state;
    });
    if (result) held = result;
  }

  /** Without migration 009: counted in this process, from the end of the table, as before it. */
  async function collectInMemory(db: Queryable): Promise<void> {
    if (!held) held = { version: 'memory', cluster: '', cursor: await startCursor(db), counts: initialCounts(), budget: new SeriesBudget(budgetOptions) };
    await readSettled(db, held, options.maxBatchesPerScrape);
  }

  async function collectOnce(db: Queryable): Promise<void> {
    if (mode !== 'persisted' && Date.now() >= nextModeCheck) {
      const { rows } = await db.query<{ ok: boolean }>(STATE_TABLE_EXISTS);
      const next = rows[0]?.ok ? 'persisted' : 'memory';
      if (next === 'memory' && mode !== 'memory') {
        log?.warn('event counts are kept in this process only: observability.event_counter_state is missing (run: npm run db:migrate); a restart starts again at 0 at the end of runtime_metrics, and rows written while it was down are not counted');
      }
      mode = next;
      nextModeCheck = Date.now() + MEMORY_RECHECK_MS;
    }
    try {
      if (mode === 'persisted') await collectPersisted(db);
      else await collectInMemory(db);
    } catch (err) {
      // The table went away under us (a restore, a manual drop): look again next time.
      if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '42883') mode = undefined;
      throw err;
    }
    persistedGauge.set(mode === 'persisted' ? 1 : 0);
    served = mode === 'memory' || caughtUp ? held!.counts : undefined;
    const { rows: [behind] } = await db.query<{ n: number; first: string | null }>(COUNT_PENDING, [held!.cursor.tx, held!.cursor.id]);
    pending.set(behind?.n ?? 0);
    const now = Date.now();
    if (!behind?.first) firstPending = undefined;
    else if (firstPending?.key !== behind.first) firstPending = { key: behind.first, since: now };
    oldestPending.set(firstPending ? (now - firstPending.since) / 1000 : 0);
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
    // While the counts cannot be read, nothing is served: the last values this process saw may be
    // below what another exporter has served since, and a counter that goes down looks like a reset.
    clear() {
      served = undefined;
      pending.clear();
      oldestPending.clear();
    },
    status() {
      return mode === 'memory'
        ? 'event counts are kept in this process only (observability.event_counter_state is missing; run: npm run db:migrate)'
        : undefined;
    },
  };
};

/**
 * Runs fn in one transaction: on a dedicated client when db is a pool, else on db itself.
 * Rolls back on any error and rethrows it.
 */
export async function inTransaction<T>(db: Queryable, fn: (q: Queryable) => Promise<T>): Promise<T> {
  const client = db instanceof pg.Pool ? await db.connect() : undefined;
  const q: Queryable = client ?? db;
  // A client whose rollback failed is in an unknown state: the pool must not hand it out again.
  let broken: Error | undefined;
  try {
    await q.query('BEGIN');
    const result = await fn(q);
    await q.query('COMMIT');
    return result;
  } catch (err) {
    await q.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw err;
  } finally {
    client?.release(broken);
  }
}

/** One change a row makes to the counts: an increment of a counter or an observation of a histogram. */
export interface EventSample {
  kind: 'inc' | 'observe';
  family: string;
  labels: Labels;
  value: number;
  /** the labels come from the row: they go through the family's series budget before counting */
  budgeted: boolean;
}

export interface RowMapping {
  routePatterns: readonly RoutePattern[];
  /** an order_event's store label from its store_id ('unknown' for a store not in the stores table) */
  storeName: (storeId: unknown) => string;
}

/**
 * What one settled row counts, in the order the collector applies it (series budgets and
 * overflow are the collector's): a pure function of the row, no database, no state. Never
 * throws on bad data: a malformed row is counted in cc_events_total and nowhere else.
 * Row shapes per event_type: sql/README.md.
 */
export function eventSamples(row: Pick<EventRow, 'created_at' | 'event_type' | 'event_data' | 'future'>, mapping: RowMapping): EventSample[] {
  // A row from the future would count now what has not happened (a payment failure that
  // pages), and again never: it is set aside whole. None can be written since migration 011.
  if (row.future === true) return [{ kind: 'inc', family: 'cc_events_ignored_total', labels: { reason: 'dated_in_future' }, value: 1, budgeted: false }];
  const samples: EventSample[] = [];
  const inc = (family: string, labels: Labels, value = 1, budgeted = true) => samples.push({ kind: 'inc', family, labels, value, budgeted });
  const observe = (family: string, labels: Labels, value: number) => samples.push({ kind: 'observe', family, labels, value, budgeted: true });
  const route = (raw: unknown) => routeTemplate(raw, mapping.routePatterns);
  inc('cc_events_total', { event_type: labelValue(row.event_type) });
  const d = (row.event_data !== null && typeof row.event_data === 'object' ? row.event_data : {}) as Record<string, unknown>;
  const dims = { service: labelValue(d.service), env: labelValue(d.env), release: labelValue(d.release) };
  switch (row.event_type) {
    case 'page_view':
      inc('cc_page_views_total', { page: route(d.page), ...dims });
      break;
    case 'api_latency': {
      const latencyMs = nonNegative(d.latency_ms);
      const statusClass = d.aborted === true && (d.status === 0 || d.status === undefined) ? 'aborted' : toStatusClass(d.status);
      if (latencyMs === undefined || statusClass === undefined) break;
      const method = typeof d.method === 'string' && HTTP_METHODS.includes(d.method.toUpperCase()) ? d.method.toUpperCase() : 'unknown';
      observe('cc_api_request_duration_seconds', { endpoint: route(d.endpoint), method, status_class: statusClass, ...dims }, latencyMs / 1000);
      inc('cc_api_requests_total', { status_class: statusClass }, 1, false);
      break;
    }
    case 'error':
      inc('cc_frontend_errors_total', { error_type: labelValue(d.error_type), ...dims });
      break;
    case 'user_action':
      inc('cc_user_actions_total', { action: labelValue(d.action), ...dims });
      break;
    case 'performance': {
      const metric = typeof d.metric === 'string' ? (d.metric.toUpperCase() as VitalName) : undefined;
      const vital = metric && metric in VITALS ? VITALS[metric] : undefined;
      const raw = nonNegative(d.value);
      if (!metric || !vital || raw === undefined) break; // FID from old clients: counted above only
      const value = raw * vital.scale;
      const rating =
        typeof d.rating === 'string' && RATINGS.includes(d.rating) ? d.rating : value <= vital.good ? 'good' : value <= vital.poor ? 'needs-improvement' : 'poor';
      observe(vital.name, { page: route(d.page), rating, ...dims }, value);
      break;
    }
    case 'edge_function': {
      const ms = nonNegative(d.execution_time_ms);
      if (ms === undefined) break;
      observe('cc_edge_function_duration_seconds', { function: labelValue(d.function_name), status: labelValue(d.status), ...dims }, ms / 1000);
      break;
    }
    case 'order_event': {
      if (typeof d.to !== 'string') break;
      const store = mapping.storeName(d.store_id);
      const from = labelValue(typeof d.from === 'string' ? d.from : 'none');
      inc('cc_order_transitions_total', { store, from, to: labelValue(d.to) });
      if (d.to !== 'completed') break;
      const total = nonNegative(d.total);
      if (total !== undefined) inc('cc_order_revenue_total', { store }, total);
      const createdAt = typeof d.order_created_at === 'string' ? Date.parse(d.order_created_at) : NaN;
      const seconds = (row.created_at.getTime() - createdAt) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) observe('cc_order_completion_duration_seconds', { store }, seconds);
      break;
    }
    case 'payment_failure':
      inc('cc_payment_failures_total', { provider: labelValue(d.provider), reason: labelValue(d.reason) });
      break;
    case 'auto_heal':
      inc('cc_auto_heal_actions_total', { action: labelValue(d.action) });
      break;
    default:
      break;
  }
  return samples;
}

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

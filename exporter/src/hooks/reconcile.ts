// alert_history reconciled with Alertmanager's own view (GET /api/v2/alerts, which lists silenced
// and inhibited alerts too), every ALERTMANAGER_RECONCILE_INTERVAL:
// - an alert Alertmanager holds but no webhook told us about (silenced or inhibited alerts never
//   reach a webhook) gets its row, with its state (active, silenced, inhibited) and by what;
// - a firing row whose occurrence Alertmanager no longer holds is closed (am_state "gone"), even
//   when no resolved notification came (an alert resolved while silenced sends none). Only when
//   every configured Alertmanager answered, and only once the row has gone unseen for
//   ALERTMANAGER_RECONCILE_GRACE (a restarted Alertmanager is empty until Prometheus re-sends,
//   every minute), so a restart never closes live alerts;
// - a row closed while its alert was silenced is marked: Alertmanager sent no resolution and still
//   counts the alert as notified firing, so it would swallow the next occurrence's FIRING page
//   until repeat_interval (prometheus/alertmanager#226). Once no active silence matches it (and it
//   has not fired again), the exporter posts the resolved alert back to every Alertmanager, which
//   then notifies the resolution and pages the next occurrence normally;
// - nothing is ever reopened, and doing it again changes nothing (one statement per pass).
// With several Alertmanagers (a cluster) the union of their alerts is the truth; with several
// exporters, each may reconcile: the statement is idempotent.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { storable } from '../text.js';
import { describeError, type Queryable } from '../db.js';

export interface ReconcileOptions {
  /** Alertmanager base URLs (every peer of a cluster); empty turns reconciliation off */
  urls: string[];
  intervalMs: number;
  /** how long a firing row may go unseen in Alertmanager before it is closed */
  graceMs: number;
  timeoutMs?: number;
}

/** An alert as GET /api/v2/alerts returns it (gettableAlert). */
interface AmAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt: string;
  generatorURL?: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy?: string[]; inhibitedBy?: string[] };
}

/** Alertmanager's view of one occurrence, as stored. */
interface Held {
  fingerprint: string;
  alertname: string;
  severity: string | null;
  starts_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generator_url: string | null;
  am_state: 'active' | 'silenced' | 'inhibited';
  silenced_by: string[];
  inhibited_by: string[];
}

// One statement: upsert what Alertmanager holds (never reopening a resolved row), then close
// the firing rows it does not hold and has not held for the grace period ($2, when $3 says every
// Alertmanager answered).
export const RECONCILE = `
WITH held AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS a(
    fingerprint text, alertname text, severity text, starts_at timestamptz, labels jsonb, annotations jsonb,
    generator_url text, am_state text, silenced_by text[], inhibited_by text[])
), upserted AS (
  INSERT INTO public.alert_history AS h
         (fingerprint, alertname, severity, status, starts_at, labels, annotations, generator_url, receiver,
          notifications, am_state, silenced_by, inhibited_by, reconciled_at)
  SELECT fingerprint, alertname, severity, 'firing', starts_at, labels, annotations, generator_url, '(reconciled)',
         0, am_state, silenced_by, inhibited_by, now()
    FROM held
   ORDER BY fingerprint, starts_at
      ON CONFLICT ON CONSTRAINT alert_history_occurrence_key DO UPDATE
     SET am_state = CASE WHEN h.status = 'resolved' THEN h.am_state ELSE excluded.am_state END,
         silenced_by = excluded.silenced_by,
         inhibited_by = excluded.inhibited_by,
         reconciled_at = now()
  RETURNING (xmax = 0) AS inserted
), closed AS (
  UPDATE public.alert_history h
     SET status = 'resolved', ends_at = now(), am_state = 'gone',
         muted_resolution = CASE WHEN h.am_state = 'silenced' THEN 'pending' END
   WHERE $3::boolean
     AND h.status = 'firing'
     AND coalesce(h.reconciled_at, h.last_received_at) < now() - make_interval(secs => $2::double precision / 1000)
     AND NOT EXISTS (SELECT 1 FROM held WHERE held.fingerprint = h.fingerprint AND held.starts_at = h.starts_at)
  RETURNING h.alertname
)
SELECT (SELECT count(*) FROM upserted WHERE inserted)::integer AS inserted,
       (SELECT count(*) FROM upserted)::integer AS seen,
       (SELECT count(*) FROM closed)::integer AS closed`;

// Rows resolved while silenced whose resolution Alertmanager has not heard yet; superseded when
// the same alert has fired again since (a replay would then clobber the new occurrence).
const PENDING_REPLAYS = `
WITH superseded AS (
  UPDATE public.alert_history h SET muted_resolution = 'superseded'
   WHERE h.muted_resolution = 'pending'
     AND EXISTS (SELECT 1 FROM public.alert_history n WHERE n.fingerprint = h.fingerprint AND n.starts_at > h.starts_at)
)
SELECT id, fingerprint, starts_at, ends_at, labels, annotations, generator_url
  FROM public.alert_history h
 WHERE muted_resolution = 'pending'
   AND NOT EXISTS (SELECT 1 FROM public.alert_history n WHERE n.fingerprint = h.fingerprint AND n.starts_at > h.starts_at)
 ORDER BY id
 LIMIT 100`;

interface Matcher { name: string; value: string; isRegex: boolean; isEqual?: boolean }
interface Silence { status: { state: string }; matchers: Matcher[] }

/** Whether an Alertmanager matcher list selects these labels (Go regexps are anchored; RE2 ⊂ JS here). */
export function silenceMatches(matchers: Matcher[], labels: Record<string, string>): boolean {
  return matchers.every((m) => {
    const value = labels[m.name] ?? '';
    let hit: boolean;
    try {
      hit = m.isRegex ? new RegExp(`^(?:${m.value})$`).test(value) : value === m.value;
    } catch {
      hit = false;
    }
    return (m.isEqual ?? true) ? hit : !hit;
  });
}

export interface Reconciler {
  /** One pass now; never throws. */
  runOnce(): Promise<{ ok: boolean; seen: number; inserted: number; closed: number; replayed?: number; error?: string }>;
  start(): void;
  stop(): Promise<void>;
}

export function createReconciler({ db, options, registry, logger, fetch: fetchImpl = fetch }: {
  db: Queryable;
  options: ReconcileOptions;
  registry: Registry;
  logger: Logger;
  fetch?: typeof fetch;
}): Reconciler {
  const log = logger.child({ component: 'alert-reconcile' });
  const registers = options.urls.length > 0 ? [registry] : [];
  const runs = new Counter({ name: 'cc_alert_reconcile_runs_total', help: 'Reconciliations of alert_history with Alertmanager, by outcome (partial: an Alertmanager did not answer, so nothing was closed).', labelNames: ['outcome'], registers });
  const inserted = new Counter({ name: 'cc_alert_reconcile_inserted_total', help: 'Occurrences written to alert_history from Alertmanager itself (silenced, inhibited or not yet notified).', registers });
  const closed = new Counter({ name: 'cc_alert_reconcile_closed_total', help: 'alert_history rows closed because Alertmanager no longer holds their alert (no resolved notification came).', registers });
  const replayed = new Counter({ name: 'cc_alert_reconcile_replayed_total', help: 'Resolutions of alerts that resolved while silenced, sent back to Alertmanager once the silence ended (so the next occurrence pages).', registers });
  const lastSuccess = new Gauge({ name: 'cc_alert_reconcile_last_success_timestamp_seconds', help: 'When alert_history was last reconciled with every Alertmanager.', registers });
  for (const outcome of ['success', 'partial', 'failed']) runs.inc({ outcome }, 0);
  const timeoutMs = options.timeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const failing = new Set<string>();
  let lastError: string | undefined;

  async function fetchAlerts(url: string): Promise<AmAlert[]> {
    const res = await fetchImpl(`${url}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    const body = (await res.json()) as unknown;
    if (!Array.isArray(body)) throw new Error(`${url}: /api/v2/alerts is not a list`);
    return body as AmAlert[];
  }

  async function runOnce(): Promise<Awaited<ReturnType<Reconciler['runOnce']>>> {
    const results = await Promise.allSettled(options.urls.map(fetchAlerts));
    const answered = results.filter((r): r is PromiseFulfilledResult<AmAlert[]> => r.status === 'fulfilled');
    results.forEach((r, i) => {
      const url = options.urls[i]!;
      if (r.status === 'rejected' && !failing.has(url)) {
        failing.add(url);
        log.warn({ err: describeError(r.reason), alertmanager: url }, 'Alertmanager not reachable for reconciliation: nothing is closed until it answers');
      } else if (r.status === 'fulfilled' && failing.delete(url)) {
        log.info({ alertmanager: url }, 'Alertmanager reachable again for reconciliation');
      }
    });
    if (answered.length === 0) {
      runs.inc({ outcome: 'failed' });
      return { ok: false, seen: 0, inserted: 0, closed: 0, error: 'no Alertmanager answered' };
    }
    const held = new Map<string, Held>();
    for (const { value } of answered) {
      for (const a of value) {
        const alertname = a.labels?.alertname;
        if (!alertname || alertname === 'Watchdog' || typeof a.fingerprint !== 'string' || Number.isNaN(Date.parse(a.startsAt))) continue;
        const startsAt = new Date(a.startsAt).toISOString();
        const silencedBy = a.status?.silencedBy ?? [];
        const inhibitedBy = a.status?.inhibitedBy ?? [];
        const row: Held = {
          fingerprint: storable(a.fingerprint),
          alertname: storable(alertname),
          severity: a.labels.severity ? storable(a.labels.severity) : null,
          starts_at: startsAt,
          labels: Object.fromEntries(Object.entries(a.labels).map(([k, v]) => [storable(k), storable(String(v))])),
          annotations: Object.fromEntries(Object.entries(a.annotations ?? {}).map(([k, v]) => [storable(k), storable(String(v))])),
          generator_url: a.generatorURL ? storable(a.generatorURL) : null,
          am_state: silencedBy.length > 0 ? 'silenced' : inhibitedBy.length > 0 ? 'inhibited' : 'active',
          silenced_by: silencedBy,
          inhibited_by: inhibitedBy,
        };
        // Peers of a cluster may disagree for a moment: a muted state wins (it is what stops pages).
        const key = `${row.fingerprint}\u0000${startsAt}`;
        const before = held.get(key);
        if (!before || before.am_state === 'active') held.set(key, row);
      }
    }
    const complete = answered.length === options.urls.length;
    try {
      const { rows } = await db.query<{ inserted: number; seen: number; closed: number }>(RECONCILE, [JSON.stringify([...held.values()]), options.graceMs, complete]);
      const r = rows[0] ?? { inserted: 0, seen: 0, closed: 0 };
      inserted.inc(r.inserted);
      closed.inc(r.closed);
      if (r.inserted > 0 || r.closed > 0) log.info({ inserted: r.inserted, closed: r.closed }, 'alert history reconciled with Alertmanager');
      if (lastError !== undefined) log.info('alert history reconciled again');
      lastError = undefined;
      const replays = complete ? await replayMutedResolutions(new Set([...held.values()].map((h) => h.fingerprint))) : 0;
      runs.inc({ outcome: complete ? 'success' : 'partial' });
      if (complete) lastSuccess.set(Date.now() / 1000);
      return { ok: complete, ...r, replayed: replays };
    } catch (err) {
      runs.inc({ outcome: 'failed' });
      const error = describeError(err);
      // Said when it starts failing or the error changes, not every pass (cc_alert_reconcile_runs_total counts them).
      if (error !== lastError) log.warn({ err: error }, 'alert history not reconciled');
      lastError = error;
      return { ok: false, seen: 0, inserted: 0, closed: 0, error };
    }
  }

  async function replayMutedResolutions(heldFingerprints: Set<string>): Promise<number> {
    const { rows } = await db.query<{ id: string; fingerprint: string; starts_at: Date; ends_at: Date; labels: Record<string, string>; annotations: Record<string, string>; generator_url: string | null }>(PENDING_REPLAYS);
    const due = rows.filter((r) => !heldFingerprints.has(r.fingerprint));
    if (due.length === 0) return 0;
    const silences = (await Promise.all(options.urls.map(async (url) => {
      const res = await fetchImpl(`${url}/api/v2/silences`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`${url}/api/v2/silences answered ${res.status}`);
      return (await res.json()) as Silence[];
    }))).flat().filter((s) => s.status?.state === 'active');
    const free = due.filter((r) => !silences.some((s) => silenceMatches(s.matchers ?? [], r.labels)));
    if (free.length === 0) return 0;
    const body = JSON.stringify(free.map((r) => ({
      labels: r.labels,
      annotations: r.annotations,
      startsAt: r.starts_at.toISOString(),
      endsAt: r.ends_at.toISOString(),
      ...(r.generator_url ? { generatorURL: r.generator_url } : {}),
    })));
    for (const url of options.urls) {
      const res = await fetchImpl(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`${url}/api/v2/alerts answered ${res.status} to the replayed resolutions`);
    }
    await db.query(`UPDATE public.alert_history SET muted_resolution = 'replayed' WHERE id = ANY($1::bigint[]) AND muted_resolution = 'pending'`, [free.map((r) => r.id)]);
    replayed.inc(free.length);
    log.info({ alerts: free.map((r) => r.labels.alertname) }, 'resolved while silenced: resolution sent to Alertmanager now that no silence matches');
    return free.length;
  }

  const schedule = () => {
    if (stopped || options.urls.length === 0) return;
    timer = setTimeout(() => {
      running = runOnce().finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };

  return {
    runOnce,
    start() {
      if (options.urls.length === 0) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

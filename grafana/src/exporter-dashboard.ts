// "Exporter": the health of the monitoring path itself. Is Postgres reachable, does every
// collector succeed and how long it takes, how far the event cursor lags, how much the OTLP
// receiver takes in and refuses, and whether alert history and SMS deliveries succeed.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { baseDashboard, datasourceVariable, deployAnnotations, environmentVariable, onceAcrossReplicas, postgresVariable, prom, statPanel, timeseriesPanel } from './common.js';
import { spokenSeconds, THRESHOLDS, type Thresholds } from './thresholds.js';

export const EXPORTER_UID = 'cc-exporter';

/** The dashboard, with the thresholds of thresholds.json (others only to show that they follow). */
export function exporter({ alerts, exporterDefaults }: Thresholds = THRESHOLDS): dashboard.DashboardBuilder {
  const board = baseDashboard('Exporter', EXPORTER_UID, 'The Connect exporter: scrapes, collectors, the event cursor, OTLP ingest and the Alertmanager webhooks.')
    .withVariable(datasourceVariable())
    .withVariable(postgresVariable())
    .withVariable(environmentVariable())
    .annotations(deployAnnotations());

  board
    .withPanel(
      statPanel({
        title: 'Exporter up',
        description: 'Whether Prometheus could scrape each exporter (up), per instance.',
        unit: units.BoolYesNo,
        named: true,
        width: 6,
        // up of the exporter's scrape job: selectors.ts gives every series its job's selector.
        targets: [prom('up', { legend: '{{instance}}', instant: true })],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Postgres reachable',
        description: 'cc_up: whether the exporter reached Postgres on its last scrape. When it is 0 the business series are absent, never frozen.',
        unit: units.BoolYesNo,
        named: true,
        width: 6,
        targets: [prom('cc_up', { legend: '{{instance}}', instant: true })],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Event cursor backlog',
        description: `cc_events_pending: runtime_metrics rows behind the cursor, not yet settled or not yet read. A long-open write transaction anywhere on the server holds it back; EventCursorBehind fires when the first of them has waited ${spokenSeconds(alerts.eventCursorBehindSeconds)}.`,
        unit: units.Short,
        width: 6,
        thresholds: [[1000, 'red']],
        targets: [prom('max(cc_events_pending)', { instant: true })],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Version',
        description: 'The exporter version and Node.js runtime of each instance.',
        unit: units.String,
        named: true,
        width: 6,
        targets: [prom('cc_exporter_build_info', { legend: '{{version}} (node {{nodejs}})', instant: true })],
      }),
    );

  board
    .withRow(new dashboard.RowBuilder('Collectors'))
    .withPanel(
      timeseriesPanel({
        title: 'Collector success',
        description: 'cc_collector_success per collector: 1 when its queries succeeded on the scrape, 0 when they failed (the scrape itself still answers). CollectorFailing fires on 0.',
        unit: units.BoolYesNo,
        min: 0,
        max: 1,
        targets: [prom('min by (collector) (cc_collector_success)', { legend: '{{collector}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Collector duration',
        description: 'How long each collector took on the scrape, and the whole scrape as Prometheus measured it. The scrape timeout is 10 s.',
        unit: units.Seconds,
        min: 0,
        targets: [
          prom('max by (collector) (cc_collector_duration_seconds)', { legend: '{{collector}}' }),
          prom('max(scrape_duration_seconds)', { legend: 'whole scrape' }),
        ],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Event loop delay',
        description:
          "How long the exporter's event loop was held, p99 and max since the previous scrape, per exporter (nodejs_eventloop_lag_*). While it is held, scrapes, spans and webhooks wait: above 100 ms something (a hostile value, a huge batch) is costing too much.",
        unit: units.Seconds,
        min: 0,
        thresholds: [[0.1, 'red']],
        targets: [
          prom('max by (instance) (nodejs_eventloop_lag_p99_seconds)', { legend: 'p99 {{instance}}' }),
          prom('max by (instance) (nodejs_eventloop_lag_max_seconds)', { legend: 'max {{instance}}' }),
        ],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Event cursor backlog',
        description: 'Rows behind the event cursor over time. It should return to near 0 after every scrape.',
        unit: units.Short,
        min: 0,
        thresholds: [[1000, 'red']],
        targets: [prom('max(cc_events_pending)', { legend: 'pending rows' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Events counted by type',
        description: 'runtime_metrics rows counted per second, by event type: the ingest rate of everything (OTLP receiver, the app, edge functions, order triggers).',
        unit: units.OpsPerSecond,
        stacked: true,
        targets: [prom(`sum by (event_type) (${onceAcrossReplicas('rate(cc_events_total[$__rate_interval])')})`, { legend: '{{event_type}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Label sets folded into other',
        description:
          'Label sets per minute counted under "other" because their metric family had used its series budget (SERIES_BUDGETS), by family. A burst of made-up values is a flood (their places go back to real values after an hour idle); a steady rate means the budget is too small for the app, or its routes are not declared in ROUTE_PATTERNS. SeriesBudgetExceeded fires on any.',
        unit: units.CountsPerMinute,
        min: 0,
        targets: [prom(`sum by (family) (${onceAcrossReplicas('rate(cc_label_overflow_total[$__rate_interval])')}) * 60`, { legend: '{{family}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Rows set aside',
        description: 'runtime_metrics rows read and counted nowhere else, per minute, by reason: dated_in_future (more than 5 minutes ahead of the database clock; only an install older than migration 011 can hold one).',
        unit: units.CountsPerMinute,
        min: 0,
        targets: [prom(`sum by (reason) (${onceAcrossReplicas('rate(cc_events_ignored_total[$__rate_interval])')}) * 60`, { legend: '{{reason}}' })],
      }),
    );

  board
    .withRow(new dashboard.RowBuilder('OTLP ingest'))
    .withPanel(
      timeseriesPanel({
        title: 'OTLP requests by status',
        description: 'Trace export requests per second by HTTP status: 200 stored, 400 malformed (not retried), 413 too large, 415 wrong content type, 429 rate limited, 503 Postgres unavailable (the client retries).',
        unit: units.RequestsPerSecond,
        stacked: true,
        width: 8,
        targets: [prom('sum by (code) (rate(cc_otlp_requests_total[$__rate_interval]))', { legend: '{{code}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'OTLP spans accepted and rejected',
        description: 'Spans per second in decoded requests: accepted, or rejected as partial success (invalid ids or times, a web vital without a name or value, an edge function span or payment failure without the server token).',
        unit: units.OpsPerSecond,
        width: 8,
        targets: [prom('sum by (outcome) (rate(cc_otlp_spans_total[$__rate_interval]))', { legend: '{{outcome}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'OTLP replays',
        description:
          'Requests per second whose body had been stored already: a client sent again a request whose answer it never got (a cut connection, a 503 after the commit). Answered 200 and not stored again. A steady rate means answers are being lost between the exporter and the browsers.',
        unit: units.RequestsPerSecond,
        width: 8,
        targets: [prom('sum(rate(cc_otlp_replayed_requests_total[$__rate_interval]))', { legend: 'replayed' })],
      }),
    );

  board
    .withRow(new dashboard.RowBuilder('Maintenance'))
    .withPanel(
      statPanel({
        title: 'Since the last maintenance run',
        description: `Time since run_system_maintenance() last completed (auto-heal, mv_order_health refresh, old-metrics cleanup), whether pg_cron or an exporter ran it; "never" when no run is on record. It runs every ${exporterDefaults.maintenanceIntervalMinutes} minutes.`,
        noValue: 'never',
        unit: units.Seconds,
        width: 6,
        thresholds: [[alerts.maintenanceMaxAgeMinutes * 60, 'red']],
        targets: [prom('time() - max(cc_maintenance_last_run_timestamp_seconds)', { instant: true })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Maintenance duration',
        description: 'How long the last run_system_maintenance() took.',
        unit: units.Seconds,
        width: 9,
        min: 0,
        targets: [prom('max(cc_maintenance_last_duration_seconds)', { legend: 'last run' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Auto-heal corrections',
        description: 'Orders auto-heal moved on, per hour, by action: preparing too long to ready, ready too long to completed.',
        unit: units.Short,
        width: 9,
        stacked: true,
        targets: [prom(`sum by (action) (${onceAcrossReplicas('rate(cc_auto_heal_actions_total[$__rate_interval])')}) * 3600`, { legend: '{{action}}' })],
      }),
    );

  board
    .withRow(new dashboard.RowBuilder('Webhooks and SMS'))
    .withPanel(
      timeseriesPanel({
        title: 'Alert history writes',
        description: 'Alert notifications written to alert_history per minute (firing, resolved), and deliveries that could not be written (answered 503, so Alertmanager retries).',
        unit: units.CountsPerMinute,
        targets: [
          prom('sum by (status) (rate(cc_alert_history_writes_total[$__rate_interval])) * 60', { legend: '{{status}}' }),
          prom('sum(rate(cc_alert_history_write_failures_total[$__rate_interval])) * 60', { legend: 'failed' }),
        ],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'SMS sent and failed',
        description: 'Text messages Twilio accepted per minute, and those it did not accept after every retry. SmsBridgeFailing fires on a failure.',
        unit: units.CountsPerMinute,
        targets: [
          prom('sum(rate(cc_sms_sent_total[$__rate_interval])) * 60', { legend: 'sent' }),
          prom('sum(rate(cc_sms_failures_total[$__rate_interval])) * 60', { legend: 'failed' }),
        ],
      }),
    );

  return board;
}

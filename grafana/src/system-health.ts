// "System Health": the old SystemHealth.tsx page as a dashboard. Its four overview cards on top,
// then one row per tab of the page (Errors, Latency, Alerts, Orders, Deployments). Live numbers
// come from Prometheus; lists of individual things (errors, alerts, deploys) from Postgres.
// One function per part of the page below systemHealth(), in the order they appear.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { firingAlertsSelector, PUSHED_ALERTS, PUSHED_FIRING } from './alerts.js';
import {
  baseDashboard, datasourceVariable, deployAnnotations, environmentVariable, exporterUrlVariable, math, onceAcrossReplicas, postgresVariable, prom, releaseVariable, serviceVariable, sql, statPanel,
  storeVariable, tablePanel, TELEMETRY, timeseriesPanel,
} from './common.js';
import { percentOf, THRESHOLDS, type Thresholds } from './thresholds.js';

/** The uid the alerts' dashboard_url names (thresholds.json, the mixin's systemHealthDashboardUid). */
export const SYSTEM_HEALTH_UID = THRESHOLDS.systemHealth.uid;

/** Panels the alerts link to (dashboard_url …?viewPanel=panel-<id>): fixed, so links survive edits (thresholds.json). */
export const LINKED_PANELS = THRESHOLDS.systemHealth.linkedPanels;

const api = 'cc_api_request_duration_seconds';
const apiErrors = `${api}_count{status_class=~"5xx|network", ${TELEMETRY}}`;

/** The dashboard, with the thresholds of thresholds.json (others only to show that they follow). */
export function systemHealth(thresholds: Thresholds = THRESHOLDS): dashboard.DashboardBuilder {
  const board = baseDashboard(
    'System Health',
    thresholds.systemHealth.uid,
    "Cameron's Connect at a glance: errors, API latency, alerts, orders and deployments. Replaces the System Health page of the app.",
  )
    .withVariable(datasourceVariable())
    .withVariable(postgresVariable())
    .withVariable(storeVariable())
    .withVariable(environmentVariable())
    .withVariable(serviceVariable())
    .withVariable(releaseVariable())
    .withVariable(exporterUrlVariable())
    .annotations(deployAnnotations());

  overviewCards(board, thresholds);
  errorsRow(board, thresholds);
  latencyRow(board, thresholds);
  alertsRow(board);
  ordersRow(board, thresholds);
  deploymentsRow(board, thresholds);
  databaseRow(board, thresholds);
  return board;
}

/** The overview cards (the page's four cards), totals over the dashboard's time range. */
function overviewCards(board: dashboard.DashboardBuilder, { alerts, exporterDefaults }: Thresholds): void {
  const latency = alerts.highApiLatencyThresholdSeconds;
  board
    .withPanel(
      statPanel({
        title: 'Errors',
        description: 'Frontend errors in the time range (24 h by default) and how many distinct sessions had at least one. From runtime_metrics error rows. No data, not 0, when nothing at all arrived in the range: no telemetry is no evidence of no errors.',
        unit: units.Short,
        named: true,
        targets: [
          sql(`
            SELECT count(*) AS "Errors",
                   count(DISTINCT session_id) AS "Affected sessions"
              FROM public.runtime_metrics
             WHERE event_type = 'error'
               AND $__timeFilter(created_at)
            HAVING EXISTS (SELECT 1 FROM public.runtime_metrics WHERE $__timeFilter(created_at))`),
        ],
        thresholds: [[1, 'orange']],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Active alerts',
        description: `Connect's alerts firing now, and how many of them are critical: those of its Prometheus rules (ALERTS; the Watchdog, which always fires, left out) plus those cc-ops pushes straight to Alertmanager (${PUSHED_ALERTS.join(', ')}), which Prometheus never sees, from alert_history. Silenced alerts still count here; see the Alerts row.`,
        unit: units.Short,
        named: true,
        targets: [
          // Grafana adds the two datasources' counts up (server-side expressions): the inputs are hidden.
          prom(`count(${firingAlertsSelector()}) or vector(0)`, { instant: true, refId: 'A', hide: true }),
          sql(`SELECT count(*) AS "Firing" FROM public.alert_history WHERE ${PUSHED_FIRING}`).refId('B').hide(),
          prom(`count(${firingAlertsSelector('severity="critical"')}) or vector(0)`, { instant: true, refId: 'C', hide: true }),
          sql(`SELECT count(*) AS "Critical" FROM public.alert_history WHERE ${PUSHED_FIRING} AND severity = 'critical'`).refId('D').hide(),
          math('Firing', '$A + $B'),
          math('Critical', '$C + $D'),
        ],
        thresholds: [[1, 'red']],
      }),
    )
    .withPanel(
      statPanel({
        title: 'API latency',
        description: `Average and 95th percentile duration of API requests seen by browsers over the time range. HighApiLatency fires when the 5-minute p95 passes ${latency} s.`,
        unit: units.Seconds,
        named: true,
        targets: [
          prom(`sum(rate(${api}_sum{${TELEMETRY}}[$__range])) / sum(rate(${api}_count{${TELEMETRY}}[$__range]))`, { legend: 'Average', instant: true, refId: 'A' }),
          prom(`histogram_quantile(0.95, sum by (le) (rate(${api}_bucket{${TELEMETRY}}[$__range])))`, { legend: 'p95', instant: true, refId: 'B' }),
        ],
        thresholds: [[latency / 2, 'orange'], [latency, 'red']],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Order health',
        description: `Orders active now (pending, confirmed, preparing, ready) and how many of them are stuck in their status past its threshold (${exporterDefaults.stuckOrderMinutes} minutes by default, every active status).`,
        unit: units.Short,
        named: true,
        targets: [
          prom(`sum(${onceAcrossReplicas('cc_orders_active{store=~"$store"}')}) or vector(0)`, { legend: 'Active', instant: true, refId: 'A' }),
          prom(`sum(${onceAcrossReplicas('cc_orders_stuck{store=~"$store"}')}) or vector(0)`, { legend: 'Stuck', instant: true, refId: 'B' }),
        ],
      }),
    );
}

/** The Errors row (the page's Errors tab). */
function errorsRow(board: dashboard.DashboardBuilder, { alerts, systemHealth: { linkedPanels } }: Thresholds): void {
  const errorRatio = alerts.highErrorRateThreshold;
  board
    .withRow(new dashboard.RowBuilder('Errors'))
    .withPanel(
      timeseriesPanel({
        title: 'Error rate by type',
        description: 'Frontend errors per minute by error type (the exception type, or span_error). Types are capped; rare ones fold into "other".',
        unit: units.CountsPerMinute,
        stacked: true,
        targets: [prom(`sum by (error_type) (${onceAcrossReplicas(`rate(cc_frontend_errors_total{${TELEMETRY}}[$__rate_interval])`)}) * 60`, { legend: '{{error_type}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        id: linkedPanels.apiErrors,
        title: 'API error ratio',
        description: `Share of API requests that failed (5xx or a network failure) over 5 minutes. HighErrorRate fires above ${percentOf(errorRatio)} % over 15 minutes.`,
        unit: units.PercentUnit,
        min: 0,
        thresholds: [[errorRatio, 'red']],
        targets: [prom(`sum(rate(${apiErrors}[$__rate_interval])) / sum(rate(${api}_count{${TELEMETRY}}[$__rate_interval]))`, { legend: 'error ratio' })],
      }),
    )
    .withPanel(
      tablePanel({
        title: 'Recent errors',
        description: 'The latest 100 frontend errors in the time range with their type, message, page URL and session. Messages and URLs are scrubbed of e-mail addresses and tokens on the way in.',
        unit: units.String,
        columns: { time: { unit: units.DatetimeISO, displayName: 'Time' } },
        targets: [
          sql(`
            SELECT created_at AS "time",
                   event_data ->> 'error_type' AS "Type",
                   event_data ->> 'message' AS "Message",
                   event_data ->> 'url' AS "URL",
                   session_id AS "Session"
              FROM public.runtime_metrics
             WHERE event_type = 'error'
               AND $__timeFilter(created_at)
             ORDER BY created_at DESC
             LIMIT 100`),
        ],
      }),
    );
}

/** The Latency row (the page's Latency tab): the per-endpoint statistics table. */
function latencyRow(board: dashboard.DashboardBuilder, { alerts, systemHealth: { linkedPanels } }: Thresholds): void {
  const latency = alerts.highApiLatencyThresholdSeconds;
  const errorRatio = alerts.highErrorRateThreshold;
  const perEndpoint = (expr: string, refId: string) => prom(expr, { instant: true, table: true, refId });
  board
    .withRow(new dashboard.RowBuilder('Latency'))
    .withPanel(
      tablePanel({
        title: 'API latency by endpoint',
        description: 'Per endpoint (route template) over the time range: average, median, 95th and 99th percentile duration, request count and error count (5xx and network failures). Percentiles are estimated from histogram buckets.',
        unit: units.Seconds,
        joinOn: 'endpoint',
        columns: {
          'Value #A': { displayName: 'Average', unit: units.Seconds },
          'Value #B': { displayName: 'p50', unit: units.Seconds },
          'Value #C': { displayName: 'p95', unit: units.Seconds },
          'Value #D': { displayName: 'p99', unit: units.Seconds },
          'Value #E': { displayName: 'Requests', unit: units.Short },
          'Value #F': { displayName: 'Errors', unit: units.Short },
        },
        sortBy: { column: 'Requests', desc: true },
        targets: [
          perEndpoint(`sum by (endpoint) (rate(${api}_sum{${TELEMETRY}}[$__range])) / sum by (endpoint) (rate(${api}_count{${TELEMETRY}}[$__range]))`, 'A'),
          perEndpoint(`histogram_quantile(0.50, sum by (endpoint, le) (rate(${api}_bucket{${TELEMETRY}}[$__range])))`, 'B'),
          perEndpoint(`histogram_quantile(0.95, sum by (endpoint, le) (rate(${api}_bucket{${TELEMETRY}}[$__range])))`, 'C'),
          perEndpoint(`histogram_quantile(0.99, sum by (endpoint, le) (rate(${api}_bucket{${TELEMETRY}}[$__range])))`, 'D'),
          perEndpoint(`round(sum by (endpoint) (${onceAcrossReplicas(`increase(${api}_count{${TELEMETRY}}[$__range])`)}))`, 'E'),
          perEndpoint(`round(sum by (endpoint) (${onceAcrossReplicas(`increase(${apiErrors}[$__range])`)}))`, 'F'),
        ],
      }),
    )
    .withPanel(
      timeseriesPanel({
        id: linkedPanels.apiLatency,
        title: 'API latency percentiles',
        description: `Median, 95th and 99th percentile duration of all API requests. The dashed line is the ${latency} s threshold of HighApiLatency.`,
        unit: units.Seconds,
        min: 0,
        thresholds: [[latency, 'red']],
        targets: [
          prom(`histogram_quantile(0.50, sum by (le) (rate(${api}_bucket{${TELEMETRY}}[$__rate_interval])))`, { legend: 'p50' }),
          prom(`histogram_quantile(0.95, sum by (le) (rate(${api}_bucket{${TELEMETRY}}[$__rate_interval])))`, { legend: 'p95' }),
          prom(`histogram_quantile(0.99, sum by (le) (rate(${api}_bucket{${TELEMETRY}}[$__rate_interval])))`, { legend: 'p99' }),
        ],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'API requests by status class',
        description: 'API requests per second by status class; "network" is a request that got no response (offline, CORS, aborted).',
        unit: units.RequestsPerSecond,
        stacked: true,
        targets: [prom(`sum by (status_class) (${onceAcrossReplicas(`rate(${api}_count{${TELEMETRY}}[$__rate_interval])`)})`, { legend: '{{status_class}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Edge functions: p95 duration',
        description: 'How long each Supabase Edge Function took to answer, 95th percentile, from the request spans that edge/ (withTelemetry) sends with the server token.',
        unit: units.Seconds,
        min: 0,
        targets: [prom(`histogram_quantile(0.95, sum by (function, le) (rate(cc_edge_function_duration_seconds_bucket{${TELEMETRY}}[$__rate_interval])))`, { legend: '{{function}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Edge function calls by status',
        description: 'Edge function requests per second; "error" is a request whose handler threw or answered 5xx.',
        unit: units.RequestsPerSecond,
        stacked: true,
        targets: [prom(`sum by (function, status) (${onceAcrossReplicas(`rate(cc_edge_function_duration_seconds_count{${TELEMETRY}}[$__rate_interval])`)})`, { legend: '{{function}} {{status}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'API p95 latency by release',
        description: "95th percentile API duration per release (the browser's service.version) in the selected environments: a new release next to the one before it.",
        unit: units.Seconds,
        min: 0,
        thresholds: [[latency, 'red']],
        targets: [prom(`histogram_quantile(0.95, sum by (release, le) (rate(${api}_bucket{${TELEMETRY}}[$__rate_interval])))`, { legend: '{{release}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'API error ratio by release',
        description: `Share of API requests that failed (5xx or network) per release in the selected environments. The dashed line is the ${percentOf(errorRatio)}% threshold of HighErrorRate.`,
        unit: units.PercentUnit,
        min: 0,
        thresholds: [[errorRatio, 'red']],
        targets: [prom(`sum by (release) (rate(${apiErrors}[$__rate_interval])) / sum by (release) (rate(${api}_count{${TELEMETRY}}[$__rate_interval]))`, { legend: '{{release}}' })],
      }),
    );
}

/** The Alerts row (the page's Alerts tab). */
function alertsRow(board: dashboard.DashboardBuilder): void {
  board
    .withRow(new dashboard.RowBuilder('Alerts'))
    .withPanel(
      tablePanel({
        title: 'Active alerts',
        description: `Connect's alerts firing now, with their labels: those of its Prometheus rules (ALERTS), and those cc-ops pushes straight to Alertmanager (${PUSHED_ALERTS.join(', ')}) from alert_history. Acknowledge one from the Alert history table below (who is on it, with a note): its repeated SMS pages stop for the cooldown, its next occurrence pages again. A silence is for planned work; the alert stays here until its condition clears.`,
        unit: units.String,
        width: 16,
        merge: true,
        columns: {
          Time: { hidden: true },
          __name__: { hidden: true },
          alertstate: { hidden: true },
          Value: { hidden: true },
          'Value #A': { hidden: true },
        },
        targets: [
          prom(firingAlertsSelector(), { instant: true, table: true, refId: 'A' }),
          sql(`
            SELECT alertname,
                   severity,
                   labels ->> 'environment' AS environment
              FROM public.alert_history
             WHERE ${PUSHED_FIRING}
             ORDER BY starts_at DESC`).refId('B'),
        ],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Alerts in Alertmanager',
        description: "Alerts Alertmanager holds now: active ones are notified, suppressed ones are silenced (acknowledged) or inhibited. Counts Alertmanager's own alerts, including the DeploymentRolledBack alert cc-ops pushes.",
        unit: units.Short,
        named: true,
        width: 8,
        height: 9,
        targets: [prom('sum by (state) (alertmanager_alerts)', { legend: '{{state}}', instant: true })],
      }),
    )
    .withPanel(
      tablePanel({
        title: 'Alert history',
        description: "Every alert occurrence in the time range, newest first: from Alertmanager's notifications and its own API (silenced and inhibited ones too, and occurrences closed because Alertmanager no longer holds them), when it started and ended, who acknowledged it and why. Acknowledge opens the exporter's /alerts/ack for that occurrence.",
        unit: units.String,
        columns: {
          time: { unit: units.DatetimeISO, displayName: 'Started' },
          Ended: { unit: units.DatetimeISO },
          'Acknowledged at': { unit: units.DatetimeISO },
          Notifications: { unit: units.Short },
          id: { hidden: true },
          Acknowledge: { links: [{ title: 'Acknowledge this occurrence', url: '${exporter_url}/alerts/ack?id=${__data.fields.id}' }] },
        },
        targets: [
          sql(`
            SELECT starts_at AS "time",
                   alertname AS "Alert",
                   severity AS "Severity",
                   status AS "Status",
                   ends_at AS "Ended",
                   coalesce(am_state, 'notified') AS "In Alertmanager",
                   acknowledged_by AS "Acknowledged by",
                   acknowledged_at AS "Acknowledged at",
                   ack_note AS "Note",
                   CASE WHEN status = 'firing' AND acknowledged_at IS NULL THEN 'Acknowledge' ELSE '' END AS "Acknowledge",
                   annotations ->> 'summary' AS "Summary",
                   notifications AS "Notifications",
                   id
              FROM public.alert_history
             WHERE $__timeFilter(starts_at)
             ORDER BY starts_at DESC
             LIMIT 200`),
        ],
      }),
    );
}

/** The Orders row (the page's Orders tab). */
function ordersRow(board: dashboard.DashboardBuilder, { exporterDefaults, systemHealth: { linkedPanels } }: Thresholds): void {
  const orders = 'cc_order_transitions_total';
  board
    .withRow(new dashboard.RowBuilder('Orders'))
    .withPanel(
      statPanel({
        title: 'Completion rate',
        description: 'Of the orders that finished in the time range, the share completed rather than cancelled.',
        unit: units.PercentUnit,
        width: 6,
        height: 8,
        targets: [
          prom(
            `sum(increase(${orders}{to="completed", store=~"$store"}[$__range])) / sum(increase(${orders}{to=~"completed|cancelled", store=~"$store"}[$__range]))`,
            { instant: true },
          ),
        ],
        thresholds: [[0.9, 'green']],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Active orders by status and store',
        description: 'Orders in each non-terminal status, per store.',
        unit: units.Short,
        width: 9,
        stacked: true,
        targets: [prom(`sum by (store, status) (${onceAcrossReplicas('cc_orders_active{store=~"$store"}')})`, { legend: '{{store}} {{status}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        id: linkedPanels.stuckOrders,
        title: 'Stuck orders by status and store',
        description: `Active orders untouched in their status longer than its stuck threshold (${exporterDefaults.stuckOrderMinutes} minutes by default, every active status): StuckOrders fires at once. Auto-heal moves preparing and ready orders on later, and OrdersAutoHealed says so.`,
        unit: units.Short,
        width: 9,
        thresholds: [[1, 'orange']],
        targets: [prom(`sum by (store, status) (${onceAcrossReplicas('cc_orders_stuck{store=~"$store"}')})`, { legend: '{{store}} {{status}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Order completion time',
        description: 'Time from order creation to completion: median and 95th percentile, from the completion-duration histogram.',
        unit: units.Seconds,
        targets: [
          prom('histogram_quantile(0.50, sum by (le) (rate(cc_order_completion_duration_seconds_bucket{store=~"$store"}[$__rate_interval])))', { legend: 'p50' }),
          prom('histogram_quantile(0.95, sum by (le) (rate(cc_order_completion_duration_seconds_bucket{store=~"$store"}[$__rate_interval])))', { legend: 'p95' }),
        ],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: 'Revenue per hour',
        description: 'Revenue of completed orders, as an hourly rate, per store.',
        unit: units.Dollars,
        stacked: true,
        targets: [prom(`sum by (store) (${onceAcrossReplicas('rate(cc_order_revenue_total{store=~"$store"}[$__rate_interval])')}) * 3600`, { legend: '{{store}}' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        id: linkedPanels.paymentFailures,
        title: 'Payment failures',
        description: 'Failed payments per minute by provider and reason. PaymentFailures pages (SMS included) on the first one in 5 minutes.',
        unit: units.CountsPerMinute,
        width: 24,
        stacked: true,
        targets: [
          prom(`sum by (provider, reason) (${onceAcrossReplicas('rate(cc_payment_failures_total[$__rate_interval])')}) * 60`, { legend: '{{provider}}: {{reason}}' }),
          prom(`sum(${onceAcrossReplicas('rate(cc_events_total{event_type="payment_failure"}[$__rate_interval])')}) * 60`, { legend: 'all' }),
        ],
      }),
    )
    .withPanel(
      tablePanel({
        title: 'Order health by hour',
        description: `The mv_order_health view (refreshed by maintenance every ${exporterDefaults.maintenanceIntervalMinutes} minutes): orders, completions, cancellations, stuck orders, average completion time and revenue per hour and store.`,
        unit: units.Short,
        columns: {
          time: { unit: units.DatetimeISO, displayName: 'Hour' },
          'Avg completion': { unit: units.Seconds },
          Revenue: { unit: units.Dollars },
        },
        targets: [
          sql(`
            SELECT h.hour AS "time",
                   s.store AS "Store",
                   h.total_orders AS "Orders",
                   h.completed_orders AS "Completed",
                   h.cancelled_orders AS "Cancelled",
                   h.stuck_preparing + h.stuck_ready AS "Stuck",
                   round((h.avg_completion_minutes * 60)::numeric, 1) AS "Avg completion",
                   h.revenue AS "Revenue"
              FROM public.mv_order_health h
              JOIN observability.stores s ON s.store_id = h.store_id
             WHERE $__timeFilter(h.hour)
               AND s.store ~ '^(\${store:regex})$'
             ORDER BY h.hour DESC, s.store`),
        ],
      }),
    );
}

/** The Deployments row (the page's Deployments tab). */
function deploymentsRow(board: dashboard.DashboardBuilder, { systemHealth: { linkedPanels } }: Thresholds): void {
  board
    .withRow(new dashboard.RowBuilder('Deployments'))
    .withPanel(
      tablePanel({
        title: 'Deployed now',
        description: 'The deployment serving each environment now: after a rollback, the one it went back to (a candidate that failed before promotion never served).',
        unit: units.String,
        width: 12,
        height: 6,
        columns: { Time: { hidden: true }, Value: { hidden: true }, __name__: { hidden: true }, job: { hidden: true }, instance: { hidden: true } },
        targets: [prom('cc_deployment_serving_info{environment=~"$environment"}', { instant: true, table: true })],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Since the last successful deploy',
        description: 'Time since the last deployment that passed its smoke tests, per environment; "never" when none has.',
        unit: units.Seconds,
        named: true,
        noValue: 'never',
        width: 6,
        height: 6,
        targets: [prom('time() - cc_deployment_last_success_timestamp_seconds{environment=~"$environment"}', { legend: '{{environment}}', instant: true })],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Rollbacks',
        description: 'Deployments rolled back in the time range, per environment. DeploymentRolledBack pages when one happens.',
        unit: units.Short,
        named: true,
        width: 6,
        height: 6,
        thresholds: [[1, 'red']],
        targets: [prom(`round(sum by (environment) (${onceAcrossReplicas('increase(cc_deployment_rollbacks_total{environment=~"$environment"}[$__range])')}))`, { legend: '{{environment}}', instant: true })],
      }),
    )
    .withPanel(
      tablePanel({
        id: linkedPanels.deployments,
        title: 'Deployment history',
        description: 'Deployments in the time range from deployment_log, newest first: environment, version, commit, status, smoke-test result, and the deployment a rollback returned to.',
        unit: units.String,
        columns: {
          time: { unit: units.DatetimeISO, displayName: 'Deployed' },
          Finished: { unit: units.DatetimeISO },
          'Smoke tests passed': { unit: units.BoolYesNo },
        },
        targets: [
          sql(`
            SELECT d.deployed_at AS "time",
                   d.environment AS "Environment",
                   d.version AS "Version",
                   left(d.commit_sha, 12) AS "Commit",
                   d.status AS "Status",
                   d.smoke_test_passed AS "Smoke tests passed",
                   d.finished_at AS "Finished",
                   d.deployed_by AS "By",
                   t.deployment_id AS "Rolled back to"
              FROM public.deployment_log d
              LEFT JOIN public.deployment_log t ON t.id = d.rollback_target_id
             WHERE $__timeFilter(d.deployed_at)
               AND d.environment ~ '^(\${environment:regex})$'
             ORDER BY d.deployed_at DESC
             LIMIT 200`),
        ],
      }),
    );
}

/** The Database and backups row: what the old page did not show but its alerts watched. */
function databaseRow(board: dashboard.DashboardBuilder, { alerts, systemHealth: { linkedPanels } }: Thresholds): void {
  board
    .withRow(new dashboard.RowBuilder('Database and backups'))
    .withPanel(
      timeseriesPanel({
        id: linkedPanels.dbSize,
        title: 'Database size',
        description: `Size of the app's database and the plan's limit (DB_SIZE_LIMIT_BYTES). LowDiskSpace warns at ${percentOf(alerts.lowDiskSpaceWarningThreshold)} % and is critical at ${percentOf(alerts.lowDiskSpaceCriticalThreshold)} %.`,
        unit: units.BytesIEC,
        width: 9,
        min: 0,
        targets: [prom('max(cc_db_size_bytes)', { legend: 'size' }), prom('max(cc_db_size_limit_bytes)', { legend: 'limit' })],
      }),
    )
    .withPanel(
      timeseriesPanel({
        id: linkedPanels.dbConnections,
        title: 'Database connections',
        description: `Client connections by state and max_connections. DbConnectionPoolSaturated fires above ${percentOf(alerts.dbConnectionSaturationThreshold)} % of the maximum.`,
        unit: units.Short,
        width: 9,
        min: 0,
        stacked: false,
        targets: [prom('sum by (state) (cc_db_connections)', { legend: '{{state}}' }), prom('max(cc_db_max_connections)', { legend: 'max_connections' })],
      }),
    )
    .withPanel(
      statPanel({
        id: linkedPanels.backups,
        title: 'Since the last backup',
        description: `Time since the last successful cc-ops backup; "never" when none is on record. BackupTooOld fires after ${alerts.backupMaxAgeHours} hours.`,
        unit: units.Seconds,
        noValue: 'never',
        width: 6,
        height: 8,
        thresholds: [[alerts.backupMaxAgeHours * 3600, 'red']],
        targets: [prom('time() - max(cc_backup_last_success_timestamp_seconds)', { instant: true })],
      }),
    );
}

// Alerts: the six of the Phase 9 report (names fixed: HighErrorRate, HighApiLatency, StuckOrders,
// PaymentFailures, LowDiskSpace, DbConnectionPoolSaturated) and the meta-alerts that say when the
// monitoring itself is blind. Thresholds and for: come from _config (config.libsonnet).
//
// Every alert: a severity label (Alertmanager routes on it and on the name), a static summary,
// a description with the value, a runbook_url into docs/runbooks.md and a dashboard_url.
// An alert that reads a recorded series is in the group of that record (rules.libsonnet).
// Gauges are read through last_over_time(…[gaugeLookback]) so one failed scrape neither resets
// a pending for: nor resolves a firing alert.
// Numbers as PromQL and people write them: 0.05, not 0.050000000000000003 (jsonnet's %s).
local num(x) = if x == std.floor(x) then std.toString(x) else '%.15g' % x;
local percent(x) = num(x * 100) + '%';
local seconds(x) = if x == 1 then '1 second' else '%s seconds' % num(x);
local isDigits(s) = std.length(s) > 0 && std.length([ch for ch in std.stringChars(s) if !std.member('0123456789', ch)]) == 0;
// '45m' -> '45 minutes', for descriptions that say how long; other durations are shown as written.
local spoken(duration) =
  local units = { s: 'second', m: 'minute', h: 'hour', d: 'day' };
  local amount = std.substr(duration, 0, std.length(duration) - 1);
  local unit = std.substr(duration, std.length(duration) - 1, 1);
  if isDigits(amount) && std.objectHas(units, unit)
  then '%s %s%s' % [amount, units[unit], if amount == '1' then '' else 's']
  else duration;
// for: is left out where it is null: such an alert fires at its first evaluation.
local pendingFor(duration) = if duration == null then {} else { 'for': duration };

{
  local c = $._config,
  local gauge(series) = 'last_over_time(%s[%s])' % [series, c.gaugeLookback],
  // The System Health dashboard, or one of its panels (alert-linked panels have fixed ids in grafana/src).
  local dashboardURL(panel=null) =
    '%s/d/%s/system-health%s' % [c.grafanaURL, c.systemHealthDashboardUid, if panel == null then '' else '?viewPanel=panel-%d' % panel],
  local withRunbook(group) = group {
    rules: [
      rule { annotations+: { runbook_url: c.runbookURLPattern % std.asciiLower(rule.alert) } }
      for rule in super.rules
    ],
  },

  prometheusAlerts+:: {
    groups+: std.map(withRunbook, [
      {
        name: 'cc-api',
        rules: [
          {
            alert: 'HighErrorRate',
            // Guard: at least apiMinRequests requests in the window, so 1 failure out of 3 pages nobody.
            expr: 'cc:api_error_ratio:rate15m > %s and cc:api_requests:increase15m >= %s' % [num(c.highErrorRateThreshold), num(c.apiMinRequests)],
            labels: { severity: 'critical' },
            annotations: {
              summary: 'More than %s of API requests are failing.' % percent(c.highErrorRateThreshold),
              description: '{{ $value | humanizePercentage }} of API requests failed (5xx or network) over the last 15 minutes; the threshold is %s.' % percent(c.highErrorRateThreshold),
              dashboard_url: dashboardURL(101),
            },
          } + pendingFor(c.highErrorRateFor),
          {
            alert: 'HighApiLatency',
            expr: 'cc:api_latency_seconds:p95_rate5m > %s and cc:api_requests:increase5m >= %s' % [num(c.highApiLatencyThresholdSeconds), num(c.apiMinRequests)],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'API requests are slow (p95 above %s).' % seconds(c.highApiLatencyThresholdSeconds),
              description: 'The 95th percentile of API request duration is {{ $value | humanizeDuration }} over the last 5 minutes; the threshold is %ss.' % num(c.highApiLatencyThresholdSeconds),
              dashboard_url: dashboardURL(102),
            },
          } + pendingFor(c.highApiLatencyFor),
        ],
      },
      {
        name: 'cc-orders',
        rules: [
          {
            alert: 'StuckOrders',
            // max over the exporters first: replicas serve the same gauge, a sum would double it.
            expr: 'sum by (store, status) (max without (instance, pod) (%s)) > %s' % [gauge('cc_orders_stuck'), num(c.stuckOrdersThreshold)],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Orders are stuck in their status.',
              description: 'Store {{ $labels.store }}: {{ $value | printf "%%.0f" }} order(s) stuck in status {{ $labels.status }} for more than %s.' % spoken(c.stuckOrdersFor),
              dashboard_url: dashboardURL(103),
            },
          } + pendingFor(c.stuckOrdersFor),
          {
            alert: 'PaymentFailures',
            // The per-type total exists at 0 from the exporter's start (labelled series appear at their
            // first failure), read de-duplicated over the exporters (cc:events_total:max), so
            // increase() sees every failure once, whichever exporter served it and whoever else scraped.
            expr: 'sum(increase(cc:events_total:max{event_type="payment_failure"}[5m])) > %s' % num(c.paymentFailuresThreshold),
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Payments are failing.',
              // increase() extrapolates to the window's edges: the count is an estimate.
              description: 'About {{ $value | printf "%.0f" }} payment failures in the last 5 minutes.',
              dashboard_url: dashboardURL(104),
            },
          },
        ],
      },
      {
        name: 'cc-database',
        rules: [
          {
            alert: 'LowDiskSpace',
            expr: '%s > %s' % [gauge('cc:db_size:ratio'), num(c.lowDiskSpaceWarningThreshold)],
            labels: { severity: 'warning' },
            annotations: {
              summary: "The database uses more than %s of its plan's size limit." % percent(c.lowDiskSpaceWarningThreshold),
              description: 'The database uses {{ $value | humanizePercentage }} of its size limit; the threshold is %s.' % percent(c.lowDiskSpaceWarningThreshold),
              dashboard_url: dashboardURL(105),
            },
          } + pendingFor(c.lowDiskSpaceWarningFor),
          // The same alert, critical, near the limit; it inhibits the warning (alertmanager.yml).
          {
            alert: 'LowDiskSpace',
            expr: '%s > %s' % [gauge('cc:db_size:ratio'), num(c.lowDiskSpaceCriticalThreshold)],
            labels: { severity: 'critical' },
            annotations: {
              summary: "The database is about to reach its plan's size limit.",
              description: 'The database uses {{ $value | humanizePercentage }} of its size limit; the threshold is %s.' % percent(c.lowDiskSpaceCriticalThreshold),
              dashboard_url: dashboardURL(105),
            },
          } + pendingFor(c.lowDiskSpaceCriticalFor),
          {
            alert: 'DbConnectionPoolSaturated',
            expr: '%s > %s' % [gauge('cc:db_connections:saturation'), num(c.dbConnectionSaturationThreshold)],
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Postgres is running out of connections.',
              description: '{{ $value | humanizePercentage }} of max_connections are in use; the threshold is %s.' % percent(c.dbConnectionSaturationThreshold),
              dashboard_url: dashboardURL(106),
            },
          } + pendingFor(c.dbConnectionPoolSaturatedFor),
        ],
      },
      {
        name: 'cc-meta',
        rules: [
          {
            alert: 'ExporterDown',
            expr: 'up{%s} == 0' % c.exporterSelector,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus cannot scrape the exporter; business alerts are blind.',
              description: 'The exporter {{ $labels.instance }} has not answered a scrape for %s.' % spoken(c.exporterDownFor),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.exporterDownFor),
          {
            alert: 'ExporterAbsent',
            expr: 'absent(up{%s})' % c.exporterSelector,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus has no exporter target; business alerts are blind.',
              description: 'There has been no cc-exporter target in Prometheus for %s (value {{ $value }}).' % spoken(c.exporterAbsentFor),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.exporterAbsentFor),
          {
            alert: 'ExporterDatabaseUnreachable',
            expr: '%s == 0' % gauge('cc_up'),
            labels: { severity: 'critical' },
            annotations: {
              summary: 'The exporter cannot reach Postgres.',
              description: 'cc_up has been {{ $value }} on {{ $labels.instance }} for %s: no order, deployment or database series.' % spoken(c.exporterDatabaseUnreachableFor),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.exporterDatabaseUnreachableFor),
          {
            alert: 'CollectorFailing',
            // While Postgres is unreachable every collector fails; ExporterDatabaseUnreachable says that.
            expr: '%s == 0 and on (job, instance) %s == 1' % [gauge('cc_collector_success'), gauge('cc_up')],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'An exporter collector is failing.',
              description: 'The {{ $labels.collector }} collector on {{ $labels.instance }} has failed every scrape for %s (success {{ $value }}).' % spoken(c.collectorFailingFor),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.collectorFailingFor),
          {
            alert: 'EventCursorBehind',
            // By age, not rows: at low traffic a handful of rows held back (a payment failure among
            // them) matters as much as thousands.
            expr: '%s > %s' % [gauge('cc_events_oldest_pending_age_seconds'), num(c.eventCursorBehindSeconds)],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Events wait to be counted: their alerts (payment failures, API errors) come late.',
              description: 'The first runtime_metrics row behind the cursor on {{ $labels.instance }} has waited {{ $value | humanizeDuration }} to be counted; the threshold is %s.' % seconds(c.eventCursorBehindSeconds),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.eventCursorBehindFor),
          {
            alert: 'DeploymentRolledBack',
            expr: 'increase(cc_deployment_rollbacks_total[15m]) > 0',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A deployment was rolled back.',
              description: 'A deployment of {{ $labels.environment }} was rolled back in the last 15 minutes ({{ $value | printf "%.0f" }}).',
              dashboard_url: dashboardURL(107),
            },
          },
          {
            alert: 'BackupTooOld',
            // Also when no successful backup is on record while the backups collector works:
            // none has run yet, or the last one is older than the events kept in runtime_metrics
            // (the maintenance job prunes them), which would otherwise resolve the alert by
            // itself. That branch has the same labels (job, instance) and the value -1.
            expr: '(time() - %s > %s * 3600)\nor on (job, instance)\n-1 * max by (job, instance) (%s == 1 unless on (job, instance) %s)' % [
              gauge('cc_backup_last_success_timestamp_seconds'),
              num(c.backupMaxAgeHours),
              gauge('cc_collector_success{collector="backups"}'),
              gauge('cc_backup_last_success_timestamp_seconds'),
            ],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'No successful database backup in the last %s hours.' % num(c.backupMaxAgeHours),
              description: '{{ if lt $value 0.0 }}No successful backup is on record: none has run yet, or the last one is older than the events kept in runtime_metrics.{{ else }}The last successful backup finished {{ $value | humanizeDuration }} ago.{{ end }}',
              dashboard_url: dashboardURL(108),
            },
          } + pendingFor(c.backupTooOldFor),
          {
            alert: 'SmsBridgeFailing',
            expr: 'increase(cc_sms_failures_total[15m]) > 0',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Alert SMS are not being delivered.',
              description: '{{ $value | printf "%.0f" }} SMS failed through Twilio on {{ $labels.instance }} in the last 15 minutes.',
              dashboard_url: dashboardURL(),
            },
          },
        ],
      },
    ]),
  },
}

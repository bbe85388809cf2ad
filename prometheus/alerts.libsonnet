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
  // A series of the exporter: exporterSelector first among its matchers (as the dashboards write
  // it, grafana/src/selectors.ts), so an alert never reads another job's series of the same name.
  // Recorded series (cc:…) take none: their records read the exporter's series only.
  local exporter(metric, matchers=null) = '%s{%s}' % [metric, if matchers == null then c.exporterSelector else '%s, %s' % [c.exporterSelector, matchers]],
  local gauge(series) = 'last_over_time(%s[%s])' % [series, c.gaugeLookback],
  // A state gauge that holds its last known value (up to stateHold) while no exporter of the
  // job reaches Postgres, or none is scraped: an outage of the exporter's database is not a
  // recovery. As soon as one exporter reaches Postgres again, the values it serves rule (the
  // held series of other or replaced exporters drop out with the whole branch).
  local held(series) =
    '(%s or (last_over_time(%s[%s]) unless on (job) (max by (job) (last_over_time(%s[%s])) == 1)))' % [
      gauge(series), series, c.stateHold, exporter('cc_up'), c.gaugeLookback,
    ],
  // A collector that works (1): now, or while no exporter reaches Postgres (every collector then
  // reads 0), at some point within stateHold.
  local worked(collector) =
    local series = exporter('cc_collector_success', 'collector="%s"' % collector);
    local reach = 'max by (job) (last_over_time(%s[%s])) == 1' % [exporter('cc_up'), c.gaugeLookback];
    '((%s == 1 and on (job) (%s)) or (max_over_time(%s[%s]) == 1 unless on (job) (%s)))' % [gauge(series), reach, series, c.stateHold, reach],
  // The System Health dashboard, or one of its panels (alert-linked panels have fixed ids, those of
  // thresholds.json, which grafana/src gives them).
  local shared = import '../thresholds.json',
  local panels = shared.systemHealth.linkedPanels,
  local dashboardURL(panel=null) =
    '%s/d/%s/system-health%s' % [c.grafanaURL, c.systemHealthDashboardUid, if panel == null then '' else '?viewPanel=panel-%d' % panel],
  local withRunbook(group) = group {
    rules: [
      rule { annotations+: { runbook_url: c.runbookURLPattern % std.asciiLower(rule.alert), ack_url: c.ackURL } }
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
              dashboard_url: dashboardURL(panels.apiErrors),
            },
          } + pendingFor(c.highErrorRateFor),
          {
            alert: 'HighApiLatency',
            expr: 'cc:api_latency_seconds:p95_rate5m > %s and cc:api_requests:increase5m >= %s' % [num(c.highApiLatencyThresholdSeconds), num(c.apiMinRequests)],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'API requests are slow (p95 above %s).' % seconds(c.highApiLatencyThresholdSeconds),
              description: 'The 95th percentile of API request duration is {{ $value | humanizeDuration }} over the last 5 minutes; the threshold is %ss.' % num(c.highApiLatencyThresholdSeconds),
              dashboard_url: dashboardURL(panels.apiLatency),
            },
          } + pendingFor(c.highApiLatencyFor),
          {
            alert: 'ApiTrafficAbsent',
            // Orders are placed through the app, whose API calls the browser reports: none counted
            // while orders flow means the telemetry is not arriving (HighErrorRate and
            // HighApiLatency are then blind), not that the API is idle.
            expr: 'sum(increase(cc:order_events_total:max[%s])) > 0\nunless\nsum(increase(cc:api_requests_total:max[%s])) > 0' % [c.apiTrafficAbsentWindow, c.apiTrafficAbsentWindow],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Orders flow but no API request is being reported: the API alerts are blind.',
              description: 'About {{ $value | printf "%%.0f" }} order events and no API request counted in the last %s: the browser telemetry (POST /v1/traces) is not arriving.' % spoken(c.apiTrafficAbsentWindow),
              dashboard_url: dashboardURL(panels.apiErrors),
            },
          } + pendingFor(c.apiTrafficAbsentFor),
        ],
      },
      {
        name: 'cc-orders',
        rules: [
          {
            alert: 'StuckOrders',
            // max over the exporters first: replicas serve the same gauge, a sum would double it.
            // The exporter counts an order as stuck from the order's own updated_at, so the
            // alert needs no for: (a restart would start one again).
            expr: 'sum by (store, status) (max without (instance, pod) (%s)) > %s' % [held(exporter('cc_orders_stuck')), num(c.stuckOrdersThreshold)],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Orders are stuck in their status.',
              description: 'Store {{ $labels.store }}: {{ $value | printf "%%.0f" }} order(s) untouched in status {{ $labels.status }} for longer than its stuck threshold (STUCK_ORDER_THRESHOLDS%s).' % (if c.stuckOrdersFor == null then '' else ', then %s' % spoken(c.stuckOrdersFor)),
              dashboard_url: dashboardURL(panels.stuckOrders),
            },
          } + pendingFor(c.stuckOrdersFor),
          {
            alert: 'OrdersAutoHealed',
            // Auto-heal never hides an incident: what it moved is said, once per window.
            expr: 'sum by (action) (increase(cc:auto_heal_actions_total:max[%s])) > 0' % c.autoHealWindow,
            labels: { severity: 'info' },
            annotations: {
              summary: 'Auto-heal moved orders that had been left in their status.',
              description: 'Auto-heal moved about {{ $value | printf "%%.0f" }} order(s) ({{ $labels.action }}) in the last %s: staff left them untouched past the auto-heal threshold. Which ones: the auto_heal events in runtime_metrics.' % spoken(c.autoHealWindow),
              dashboard_url: dashboardURL(panels.stuckOrders),
            },
          },
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
              dashboard_url: dashboardURL(panels.paymentFailures),
            },
          },
        ],
      },
      {
        name: 'cc-database',
        rules: [
          {
            alert: 'LowDiskSpace',
            expr: '%s > %s' % [held('cc:db_size:ratio'), num(c.lowDiskSpaceWarningThreshold)],
            labels: { severity: 'warning' },
            annotations: {
              summary: "The database uses more than %s of its plan's size limit." % percent(c.lowDiskSpaceWarningThreshold),
              description: 'The database uses {{ $value | humanizePercentage }} of its size limit; the threshold is %s.' % percent(c.lowDiskSpaceWarningThreshold),
              dashboard_url: dashboardURL(panels.dbSize),
            },
          } + pendingFor(c.lowDiskSpaceWarningFor),
          // The same alert, critical, near the limit; it inhibits the warning (alertmanager.yml).
          {
            alert: 'LowDiskSpace',
            expr: '%s > %s' % [held('cc:db_size:ratio'), num(c.lowDiskSpaceCriticalThreshold)],
            labels: { severity: 'critical' },
            annotations: {
              summary: "The database is about to reach its plan's size limit.",
              description: 'The database uses {{ $value | humanizePercentage }} of its size limit; the threshold is %s.' % percent(c.lowDiskSpaceCriticalThreshold),
              dashboard_url: dashboardURL(panels.dbSize),
            },
          } + pendingFor(c.lowDiskSpaceCriticalFor),
          {
            alert: 'DbConnectionPoolSaturated',
            expr: '%s > %s' % [held('cc:db_connections:saturation'), num(c.dbConnectionSaturationThreshold)],
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Postgres is running out of connections.',
              description: '{{ $value | humanizePercentage }} of max_connections are in use; the threshold is %s.' % percent(c.dbConnectionSaturationThreshold),
              dashboard_url: dashboardURL(panels.dbConnections),
            },
          } + pendingFor(c.dbConnectionPoolSaturatedFor),
        ],
      },
      {
        name: 'cc-meta',
        rules: [
          {
            alert: 'ExporterDown',
            expr: '%s == 0' % exporter('up'),
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus cannot scrape the exporter; business alerts are blind.',
              description: 'The exporter {{ $labels.instance }} has not answered a scrape for %s.' % spoken(c.exporterDownFor),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.exporterDownFor),
          {
            alert: 'ExporterAbsent',
            expr: 'absent(%s)' % exporter('up'),
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus has no exporter target; business alerts are blind.',
              description: 'There has been no cc-exporter target in Prometheus for %s (value {{ $value }}).' % spoken(c.exporterAbsentFor),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.exporterAbsentFor),
          {
            alert: 'ExporterDatabaseUnreachable',
            expr: '%s == 0' % gauge(exporter('cc_up')),
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
            expr: '%s == 0 and on (job, instance) %s == 1' % [gauge(exporter('cc_collector_success')), gauge(exporter('cc_up'))],
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
            expr: '%s > %s' % [held(exporter('cc_events_oldest_pending_age_seconds')), num(c.eventCursorBehindSeconds)],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Events wait to be counted: their alerts (payment failures, API errors) come late.',
              description: 'The first runtime_metrics row behind the cursor on {{ $labels.instance }} has waited {{ $value | humanizeDuration }} to be counted; the threshold is %s.' % seconds(c.eventCursorBehindSeconds),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.eventCursorBehindFor),
          {
            alert: 'SeriesBudgetExceeded',
            // The exporter's series budget per metric family (SERIES_BUDGETS) held: label values
            // past it are counted under "other". A flood from a browser holding the public
            // endpoint, or more real values than the budget allows; nothing is lost but detail.
            expr: 'sum by (family) (increase(cc:label_overflow_total:max[15m])) > 0',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'A metric family used its series budget: new label values are counted under "other".',
              description: '{{ $value | printf "%.0f" }} label sets of {{ $labels.family }} were counted under other in the last 15 minutes: a flood of values (a hostile client), or more real values than its budget (SERIES_BUDGETS) allows.',
              dashboard_url: dashboardURL(),
            },
          },
          {
            alert: 'DeploymentRolledBack',
            expr: 'increase(%s[15m]) > 0' % exporter('cc_deployment_rollbacks_total'),
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A deployment was rolled back.',
              description: 'A deployment of {{ $labels.environment }} was rolled back in the last 15 minutes ({{ $value | printf "%.0f" }}).',
              dashboard_url: dashboardURL(panels.deployments),
            },
          },
          {
            alert: 'BackupTooOld',
            // Also when no successful backup is on record while the backups collector works:
            // none has run yet, or the last one is older than the events kept in runtime_metrics
            // (the maintenance job prunes them), which would otherwise resolve the alert by
            // itself. That branch has the same labels (job, instance) and the value -1.
            expr: '(time() - %s > %s * 3600)\nor on (job, instance)\n-1 * max by (job, instance) (%s unless on (job, instance) %s)' % [
              held(exporter('cc_backup_last_success_timestamp_seconds')),
              num(c.backupMaxAgeHours),
              worked('backups'),
              held(exporter('cc_backup_last_success_timestamp_seconds')),
            ],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'No successful database backup in the last %s hours.' % num(c.backupMaxAgeHours),
              description: '{{ if lt $value 0.0 }}No successful backup is on record: none has run yet, or the last one is older than the events kept in runtime_metrics.{{ else }}The last successful backup finished {{ $value | humanizeDuration }} ago.{{ end }}',
              dashboard_url: dashboardURL(panels.backups),
            },
          } + pendingFor(c.backupTooOldFor),
          {
            alert: 'SmsBridgeFailing',
            expr: 'increase(%s[15m]) > 0' % exporter('cc_sms_failures_total'),
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Alert SMS are not being delivered.',
              description: '{{ $value | printf "%.0f" }} SMS failed through Twilio on {{ $labels.instance }} in the last 15 minutes.',
              dashboard_url: dashboardURL(),
            },
          },
          {
            alert: 'MaintenanceNotRunning',
            // Also when no run is on record while the maintenance collector works (it never ran).
            expr: '(time() - %s > %s * 60)\nor on (job, instance)\n-1 * max by (job, instance) (%s unless on (job, instance) %s)' % [
              held(exporter('cc_maintenance_last_run_timestamp_seconds')),
              num(c.maintenanceMaxAgeMinutes),
              worked('maintenance'),
              held(exporter('cc_maintenance_last_run_timestamp_seconds')),
            ],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Scheduled maintenance (auto-heal, order health, event retention) is not running.',
              description: '{{ if lt $value 0.0 }}No completed run_system_maintenance() is on record.{{ else }}The last completed run_system_maintenance() was {{ $value | humanizeDuration }} ago.{{ end }} It should run every %d minutes (pg_cron or MAINTENANCE_SCHEDULER).' % shared.exporterDefaults.maintenanceIntervalMinutes,
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.maintenanceNotRunningFor),
          {
            alert: 'MaintenanceFailing',
            // Every replica's scheduler counts its own runs; one success anywhere clears it.
            expr: 'sum by (job) (increase(%s[%s])) > 0\nunless on (job)\nsum by (job) (increase(%s[%s])) > 0' % [
              exporter('cc_maintenance_runs_total', 'outcome="failed"'), c.maintenanceFailingWindow,
              exporter('cc_maintenance_runs_total', 'outcome="success"'), c.maintenanceFailingWindow,
            ],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Scheduled maintenance fails.',
              description: 'run_system_maintenance() failed {{ $value | printf "%%.0f" }} time(s) and succeeded none in the last %s; the exporter logs say why.' % spoken(c.maintenanceFailingWindow),
              dashboard_url: dashboardURL(),
            },
          },
          {
            alert: 'AlertmanagerNotificationsFailing',
            expr: 'sum by (job, instance, integration) (increase(alertmanager_notifications_failed_total{%s}[5m])) > 0' % c.alertmanagerSelector,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Alertmanager cannot deliver notifications through one of its integrations.',
              description: '{{ $value | printf "%%.0f" }} {{ $labels.integration }} notification(s) failed on {{ $labels.instance }} in the last 5 minutes, and failures have gone on for %s: alerts may reach nobody that way.' % spoken(c.alertmanagerNotificationsFailingFor),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.alertmanagerNotificationsFailingFor),
          {
            alert: 'RuleEvaluationFailing',
            expr: 'sum by (job, instance, rule_group) (increase(prometheus_rule_evaluation_failures_total{%s}[5m])) > 0' % c.prometheusSelector,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus fails to evaluate rules: alerts of that group are blind.',
              description: '{{ $value | printf "%%.0f" }} evaluation(s) of rule group {{ $labels.rule_group }} failed on {{ $labels.instance }} in the last 5 minutes, and failures have gone on for %s.' % spoken(c.ruleEvaluationFailuresFor),
              dashboard_url: dashboardURL(),
            },
          } + pendingFor(c.ruleEvaluationFailuresFor),
          {
            alert: 'Watchdog',
            // Always firing: routed to a dead man's switch (alertmanager.yml, heartbeat), which
            // pages when it stops hearing it: Prometheus, Alertmanager or the path between down.
            expr: 'vector(1)',
            labels: { severity: 'none' },
            annotations: {
              summary: 'The alerting pipeline is alive (always firing).',
              description: 'Always firing. Alertmanager sends it to the dead man\'s switch (HEARTBEAT_URL); when that stops hearing from it, Prometheus, Alertmanager or the path between is down.',
              dashboard_url: dashboardURL(),
            },
          },
        ],
      },
    ]),
  },
}

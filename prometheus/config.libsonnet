// The knobs of the Connect Observability mixin: override any of them with
// `(import 'mixin.libsonnet') + { _config+:: { highErrorRateThreshold: 0.1 } }`.
// Ratios are fractions (0.05 = 5%); durations are Prometheus durations ('5m').
// The thresholds' defaults and the System Health uid are those of thresholds.json at the root of
// the repository, which the dashboards (grafana/src/thresholds.ts) read too.
local shared = import '../thresholds.json';
local t = shared.alerts;
{
  _config+:: {
    // The exporter's scrape target: every exporter series (cc_*, up) that a rule, an alert or a
    // dashboard reads carries it, first among its matchers (grafana/src/selectors.ts maps metrics
    // to jobs), so another job's series of the same names move nothing. On Kubernetes the job is
    // the Service's name (or the ServiceMonitor's jobLabel).
    exporterSelector: 'job="cc-exporter"',

    // How far back a gauge is read (last_over_time(…[gaugeLookback])): one failed scrape neither
    // resets a pending for: nor resolves a firing alert. Keep it above two scrape intervals.
    gaugeLookback: '2m',

    // State alerts (StuckOrders, LowDiskSpace, DbConnectionPoolSaturated, BackupTooOld,
    // EventCursorBehind, MaintenanceNotRunning) hold their last known values while no exporter
    // of the job reaches Postgres (cc_up) or none is scraped at all, for up to this long: an
    // outage of the exporter's database is not a recovery, so it never sends "RESOLVED".
    stateHold: '6h',

    // Event counters are read de-duplicated: every exporter replica serves the same committed
    // counts, so the records take their maximum over the exporters, each exporter's last sample
    // within eventCountsBridge (it bridges restarts, failovers and outages up to this long; past
    // it, increase() misses what was counted during the gap, though the counts keep it).
    eventCountsBridge: '1h',

    // HighApiLatency and HighErrorRate need at least this many requests in their window, so
    // 1 failure out of 3 pages nobody.
    apiMinRequests: t.apiMinRequests,

    // HighErrorRate: the share of API requests failing (5xx or network) over 15 minutes.
    highErrorRateThreshold: t.highErrorRateThreshold,
    highErrorRateFor: '2m',

    // HighApiLatency: p95 of API request duration over 5 minutes, in seconds.
    highApiLatencyThresholdSeconds: t.highApiLatencyThresholdSeconds,
    highApiLatencyFor: '10m',

    // StuckOrders: orders of one store and status untouched past their status's threshold
    // (the exporter's STUCK_ORDER_THRESHOLDS, 45m for every active status by default: the old
    // rule's 45 minutes). The exporter times them from the database's own timestamps, so the
    // alert has no for: that a restart of Prometheus or the exporter would start again.
    stuckOrdersThreshold: t.stuckOrdersThreshold,
    stuckOrdersFor: null,
    // OrdersAutoHealed: auto-heal moved orders in this window (maintenance runs every 15m).
    autoHealWindow: '20m',

    // PaymentFailures: payment failures in 5 minutes; it fires at once (no for:).
    paymentFailuresThreshold: t.paymentFailuresThreshold,

    // LowDiskSpace: database size over its plan's limit, a warning and then a critical alert.
    lowDiskSpaceWarningThreshold: t.lowDiskSpaceWarningThreshold,
    lowDiskSpaceWarningFor: '15m',
    lowDiskSpaceCriticalThreshold: t.lowDiskSpaceCriticalThreshold,
    lowDiskSpaceCriticalFor: '5m',

    // DbConnectionPoolSaturated: connections in use over max_connections.
    dbConnectionSaturationThreshold: t.dbConnectionSaturationThreshold,
    dbConnectionPoolSaturatedFor: '5m',

    // Meta-alerts: when monitoring itself is blind.
    exporterDownFor: '5m',
    exporterAbsentFor: '15m',
    exporterDatabaseUnreachableFor: '5m',
    collectorFailingFor: '10m',
    // EventCursorBehind: seconds the first runtime_metrics row behind the cursor has waited to be
    // counted (a long-open write transaction holds every later row back, payment failures too).
    eventCursorBehindSeconds: t.eventCursorBehindSeconds,
    eventCursorBehindFor: '2m',
    backupMaxAgeHours: t.backupMaxAgeHours,  // a daily backup, plus slack for a slow run
    backupTooOldFor: '30m',
    // MaintenanceNotRunning: no completed run_system_maintenance() for this long (it runs every
    // 15 minutes, by pg_cron or an exporter's scheduler). MaintenanceFailing: an exporter's runs
    // failed and none succeeded within maintenanceFailingWindow (two failed runs in a row).
    maintenanceMaxAgeMinutes: t.maintenanceMaxAgeMinutes,
    maintenanceNotRunningFor: '30m',
    maintenanceFailingWindow: '20m',
    // ApiTrafficAbsent: orders flow (order events) but no API request has been counted for this
    // long: the browser telemetry is not arriving, so HighErrorRate and HighApiLatency are blind.
    apiTrafficAbsentWindow: '30m',
    apiTrafficAbsentFor: '15m',

    // The monitoring's own processes: Alertmanager's series (alertmanager_*: notification
    // failures) and Prometheus's (prometheus_*: rule evaluation failures), in rules and dashboards.
    alertmanagerSelector: 'job="alertmanager"',
    prometheusSelector: 'job="prometheus"',
    alertmanagerNotificationsFailingFor: '5m',
    ruleEvaluationFailuresFor: '5m',

    // runbook_url of every alert: the pattern gets the alert's name in lower case (the anchor
    // of its section in docs/runbooks.md).
    runbookURLPattern: 'https://github.com/camerons-connect/connect-observability/blob/main/docs/runbooks.md#%s',

    // ack_url of every alert: the exporter's /alerts/ack as on-call's browser reaches it; the
    // notifications link it with the occurrence's fingerprint (alertmanager/templates).
    ackURL: 'http://localhost:9464/alerts/ack',

    // dashboard_url of every alert: Grafana's base URL and the System Health dashboard's uid
    // (grafanaDashboards gives the dashboard this uid, so the links keep working).
    grafanaURL: 'http://localhost:3000',
    systemHealthDashboardUid: shared.systemHealth.uid,

    // The Grafana datasources the dashboards use by default (their `datasource` and `postgres`
    // variables); the uids are those of grafana/provisioning/.
    prometheusDatasourceUid: 'cc-prometheus',
    postgresDatasourceUid: 'cc-postgres',
  },
}

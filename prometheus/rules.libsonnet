// Recording rules: the API error ratio and traffic, latency quantiles and the database ratios
// the alerts and dashboards read. Their groups carry the names of the alert groups that read
// them: mixin.libsonnet's ruleFile puts each group's records before its alerts, because rules of
// one group are evaluated in order, so an alert sees this evaluation's value (groups run
// independently).
//
// Event counters (cc_events_total, cc_api_requests_total) are read through records of their
// maximum over the exporters (eventCounts below): every replica serves the same committed counts,
// a restart or a failover continues them, and the record is one series whoever serves it, so
// increase() counts each event once. Alerts read only series that exist from the exporter's
// start at 0 (known event types, the five status classes), so no first sample above 0 is missed.
{
  local c = $._config,
  // A series of the exporter: exporterSelector first among its matchers (as the dashboards write
  // it, grafana/src/selectors.ts), so a rule never reads another job's series of the same name.
  local exporter(metric, matchers=null) = '%s{%s}' % [metric, if matchers == null then c.exporterSelector else '%s, %s' % [c.exporterSelector, matchers]],
  // The de-duplicated counter: each exporter's last sample within the bridge, the maximum of them.
  local eventCounts(record, series, by) = {
    record: record,
    expr: 'max by (%s) (last_over_time(%s[%s]))' % [by, exporter(series), c.eventCountsBridge],
  },
  prometheusRules+:: {
    groups+: [
      {
        name: 'cc-api',
        rules: [
          eventCounts('cc:api_requests_total:max', 'cc_api_requests_total', 'status_class'),
          // Orders placed or moved (order events), read by ApiTrafficAbsent beside the API requests.
          {
            record: 'cc:order_events_total:max',
            expr: 'max(last_over_time(%s[%s]))' % [exporter('cc_events_total', 'event_type="order_event"'), c.eventCountsBridge],
          },
          // 5xx and network failures (status 0) over every request the app made that got an
          // outcome: a call still pending when its page closed (aborted) is neither.
          {
            record: 'cc:api_error_ratio:rate15m',
            expr: |||
              sum(rate(cc:api_requests_total:max{status_class=~"5xx|network"}[15m]))
              /
              sum(rate(cc:api_requests_total:max{status_class!="aborted"}[15m]))
            |||,
          },
          {
            record: 'cc:api_error_ratio:rate5m',
            expr: |||
              sum(rate(cc:api_requests_total:max{status_class=~"5xx|network"}[5m]))
              /
              sum(rate(cc:api_requests_total:max{status_class!="aborted"}[5m]))
            |||,
          },
          // Requests in the window: the low-traffic guards of the API alerts.
          {
            record: 'cc:api_requests:increase15m',
            expr: 'sum(increase(cc:api_requests_total:max[15m]))',
          },
          {
            record: 'cc:api_requests:increase5m',
            expr: 'sum(increase(cc:api_requests_total:max[5m]))',
          },
        ] + [
          {
            record: 'cc:api_latency_seconds:p%s_rate5m' % q,
            expr: 'histogram_quantile(0.%s, sum by (le) (rate(%s[5m])))' % [q, exporter('cc_api_request_duration_seconds_bucket')],
          }
          for q in ['50', '95', '99']
        ] + [
          {
            record: 'endpoint:cc_api_latency_seconds:p95_rate5m',
            expr: 'histogram_quantile(0.95, sum by (endpoint, le) (rate(%s[5m])))' % exporter('cc_api_request_duration_seconds_bucket'),
          },
        ],
      },
      {
        name: 'cc-orders',
        rules: [
          eventCounts('cc:events_total:max', 'cc_events_total', 'event_type'),
          eventCounts('cc:auto_heal_actions_total:max', 'cc_auto_heal_actions_total', 'action'),
        ],
      },
      {
        name: 'cc-meta',
        rules: [
          eventCounts('cc:label_overflow_total:max', 'cc_label_overflow_total', 'family'),
        ],
      },
      {
        name: 'cc-database',
        rules: [
          {
            record: 'cc:db_size:ratio',
            expr: '%s / %s' % [exporter('cc_db_size_bytes'), exporter('cc_db_size_limit_bytes')],
          },
          {
            record: 'cc:db_connections:saturation',
            expr: 'sum without (state) (%s) / %s' % [exporter('cc_db_connections'), exporter('cc_db_max_connections')],
          },
        ],
      },
    ],
  },
}

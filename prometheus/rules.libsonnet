// Recording rules: the API error ratio and traffic, latency quantiles and the database ratios
// the alerts and dashboards read. Their groups carry the names of the alert groups that read
// them: mixin.libsonnet's ruleFile puts each group's records before its alerts, because rules of
// one group are evaluated in order, so an alert sees this evaluation's value (groups run
// independently).
{
  prometheusRules+:: {
    groups+: [
      {
        name: 'cc-api',
        rules: [
          // 5xx and network failures (status 0) over every request the app made.
          {
            record: 'cc:api_error_ratio:rate15m',
            expr: |||
              (sum(rate(cc_api_request_duration_seconds_count{status_class=~"5xx|network"}[15m])) or vector(0))
              /
              sum(rate(cc_api_request_duration_seconds_count[15m]))
            |||,
          },
          {
            record: 'cc:api_error_ratio:rate5m',
            expr: |||
              (sum(rate(cc_api_request_duration_seconds_count{status_class=~"5xx|network"}[5m])) or vector(0))
              /
              sum(rate(cc_api_request_duration_seconds_count[5m]))
            |||,
          },
          // Requests in the window: the low-traffic guards of the API alerts.
          {
            record: 'cc:api_requests:increase15m',
            expr: 'sum(increase(cc_api_request_duration_seconds_count[15m]))',
          },
          {
            record: 'cc:api_requests:increase5m',
            expr: 'sum(increase(cc_api_request_duration_seconds_count[5m]))',
          },
        ] + [
          {
            record: 'cc:api_latency_seconds:p%s_rate5m' % q,
            expr: 'histogram_quantile(0.%s, sum by (le) (rate(cc_api_request_duration_seconds_bucket[5m])))' % q,
          }
          for q in ['50', '95', '99']
        ] + [
          {
            record: 'endpoint:cc_api_latency_seconds:p95_rate5m',
            expr: 'histogram_quantile(0.95, sum by (endpoint, le) (rate(cc_api_request_duration_seconds_bucket[5m])))',
          },
        ],
      },
      {
        name: 'cc-database',
        rules: [
          {
            record: 'cc:db_size:ratio',
            expr: 'cc_db_size_bytes / cc_db_size_limit_bytes',
          },
          {
            record: 'cc:db_connections:saturation',
            expr: 'sum without (state) (cc_db_connections) / cc_db_max_connections',
          },
        ],
      },
    ],
  },
}

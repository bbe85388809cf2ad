// The Connect Observability monitoring mixin: prometheusRules (recording rules), prometheusAlerts,
// grafanaDashboards and an overridable _config, in the shape kubernetes-mixin and node-mixin have.
// prometheus/rules/connect.yml is ruleFile rendered with the default _config (npm run rules).
(import 'config.libsonnet')
+ (import 'rules.libsonnet')
+ (import 'alerts.libsonnet')
+ (import 'dashboards.libsonnet')
+ {
  // One rule file: the groups of prometheusAlerts in their order, each starting with the recording
  // rules of the same name (an alert then reads this evaluation's value of the series it needs),
  // then record-only groups. Load it as one file or one PrometheusRule: prometheusRules.groups +
  // prometheusAlerts.groups in one file would repeat group names, which Prometheus refuses.
  ruleFile:: {
    local records = { [g.name]: g for g in $.prometheusRules.groups },
    local alerting = { [g.name]: g for g in $.prometheusAlerts.groups },
    groups: [
      if std.objectHas(records, g.name) then records[g.name] + g { rules: records[g.name].rules + g.rules } else g
      for g in $.prometheusAlerts.groups
    ] + [g for g in $.prometheusRules.groups if !std.objectHas(alerting, g.name)],
  },
}

// The Grafana dashboards, as npm run dashboards generates them from grafana/src (TypeScript stays
// their source), with the job selectors, the datasources and the System Health uid of _config.
// Panels query through the dashboards' `datasource` and `postgres` variables, so their defaults
// pick the datasources.
local boards = {
  'exporter.json': import '../grafana/dashboards/exporter.json',
  'system-health.json': import '../grafana/dashboards/system-health.json',
  'web-vitals.json': import '../grafana/dashboards/web-vitals.json',
};

// The generated dashboards carry the default selectors of config.libsonnet in every query, one per
// series selector (grafana/src/selectors.ts puts them there: the exporter's on its series,
// Alertmanager's and Prometheus's on their own metrics). Each is replaced by its _config value,
// all at once: a default first becomes a marker, so a value that spells another default (or
// contains it) is never replaced again.
local defaults = (import 'config.libsonnet')._config;
local selectorFields = ['exporterSelector', 'alertmanagerSelector', 'prometheusSelector'];
local marker(field) = '\u0000%s\u0000' % field;
local withSelectorsIn(text, c) =
  local marked = std.foldl(function(s, f) std.strReplace(s, defaults[f], marker(f)), selectorFields, text);
  std.foldl(function(s, f) std.strReplace(s, marker(f), c[f]), selectorFields, marked);
// Queries live in these fields: a target's expr, a query variable's query (or query.query) and
// definition. Only their strings are rewritten (jsonnet's strReplace is slow on long descriptions).
local queryFields = ['expr', 'query', 'definition'];
local withSelectors(value, c, inQuery=false) =
  if std.isString(value) then (if inQuery then withSelectorsIn(value, c) else value)
  else if std.isArray(value) then [withSelectors(v, c, inQuery) for v in value]
  else if std.isObject(value) then { [k]: withSelectors(value[k], c, inQuery || std.member(queryFields, k)) for k in std.objectFields(value) }
  else value;

{
  local c = $._config,
  local defaultUid = { datasource: c.prometheusDatasourceUid, postgres: c.postgresDatasourceUid },
  local withDatasources(board) = board {
    templating+: {
      list: [
        if variable.type == 'datasource' && std.objectHas(defaultUid, variable.name)
        then variable { current+: { value: defaultUid[variable.name] } }
        else variable
        for variable in super.list
      ],
    },
  },

  grafanaDashboards+:: {
    [file]: withDatasources(withSelectors(boards[file], c))
    for file in std.objectFields(boards)
  } + {
    'system-health.json'+: { uid: c.systemHealthDashboardUid },
  },
}

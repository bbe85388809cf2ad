// The Grafana dashboards, as npm run dashboards generates them from grafana/src (TypeScript stays
// their source), with the datasources and the System Health uid of _config. Panels query through
// the dashboards' `datasource` and `postgres` variables, so their defaults pick the datasources.
local boards = {
  'exporter.json': import '../grafana/dashboards/exporter.json',
  'system-health.json': import '../grafana/dashboards/system-health.json',
  'web-vitals.json': import '../grafana/dashboards/web-vitals.json',
};

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
    [file]: withDatasources(boards[file])
    for file in std.objectFields(boards)
  } + {
    'system-health.json'+: { uid: c.systemHealthDashboardUid },
  },
}

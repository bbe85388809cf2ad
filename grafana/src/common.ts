// What every dashboard shares: the provisioned datasources (by fixed uid), the template
// variables, the deploy annotations, and small panel factories that make a title, a
// description and a unit mandatory, so no panel can be written without them.
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as expr from '@grafana/grafana-foundation-sdk/expr';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** The datasources of grafana/provisioning/datasources, by the uids dashboards refer to. */
export const DATASOURCES = {
  prometheus: { type: 'prometheus', uid: 'cc-prometheus' },
  alertmanager: { type: 'alertmanager', uid: 'cc-alertmanager' },
  postgres: { type: 'grafana-postgresql-datasource', uid: 'cc-postgres' },
} as const;

/** Panels and queries name the datasource through variables, so one dashboard serves several stacks. */
export const PROMETHEUS: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
export const POSTGRES: common.DataSourceRef = { type: 'grafana-postgresql-datasource', uid: '${postgres}' };

/** A panel whose queries go to several datasources (each query names its own). */
export const MIXED: common.DataSourceRef = { type: 'datasource', uid: '-- Mixed --' };
/** Grafana's server-side expressions: math over the results of a panel's other queries, whatever their datasources. */
export const EXPRESSION: common.DataSourceRef = { type: '__expr__', uid: '__expr__' };

/** Grafana's own annotation store, where `cc-ops deploy` writes annotations tagged `deploy`. */
const GRAFANA_ANNOTATIONS: common.DataSourceRef = { type: 'grafana', uid: '-- Grafana --' };

// ---------------------------------------------------------------------------------------------
// Queries

export interface PromOptions {
  legend?: string;
  /** one value per series at the end of the range (stat cards, tables) */
  instant?: boolean;
  /** table format: labels become columns (tables) */
  table?: boolean;
  refId?: string;
  /** only an input of an expression: not shown */
  hide?: boolean;
}

/**
 * A database-derived series once, however many exporter replicas serve it: replicas serve the
 * same committed event counts and the same gauges, so sum over them would count each twice.
 */
export function onceAcrossReplicas(expr: string): string {
  return `max without (instance, pod) (${expr})`;
}

export function prom(promql: string, { legend, instant = false, table: asTable = false, refId, hide }: PromOptions = {}): prometheus.DataqueryBuilder {
  const query = new prometheus.DataqueryBuilder().datasource(PROMETHEUS).expr(promql).editorMode(prometheus.QueryEditorMode.Code);
  if (legend !== undefined) query.legendFormat(legend);
  if (hide) query.hide(true);
  if (instant) query.instant();
  else query.range();
  if (asTable) query.format(prometheus.PromQueryFormat.Table);
  if (refId) query.refId(refId);
  return query;
}

/** A query of Grafana's PostgreSQL datasource (the SDK has no builder for it; this is its JSON model). */
export interface SqlQuery extends Dataquery {
  refId?: string;
  hide?: boolean;
  datasource?: common.DataSourceRef;
  rawSql: string;
  rawQuery: true;
  editorMode: 'code';
  format: 'table' | 'time_series';
}

export class SqlQueryBuilder implements Builder<Dataquery> {
  private readonly internal: SqlQuery;

  constructor(rawSql: string, format: SqlQuery['format'] = 'table') {
    this.internal = { datasource: POSTGRES, rawSql: dedent(rawSql), rawQuery: true, editorMode: 'code', format, _implementsDataqueryVariant() {} };
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  /** only an input of an expression: not shown */
  hide(): this {
    this.internal.hide = true;
    return this;
  }

  build(): SqlQuery {
    return this.internal;
  }
}

export const sql = (rawSql: string, format: SqlQuery['format'] = 'table') => new SqlQueryBuilder(rawSql, format);

/** A math expression over other queries of the panel by refId (`$A + $B`): how a panel adds up results of two datasources. */
export const math = (refId: string, expression: string) => new expr.TypeMathBuilder().datasource(EXPRESSION).refId(refId).expression(expression);

function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').replace(/\s+$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Variables

export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource')
    .label('Prometheus')
    .type('prometheus')
    .description('The Prometheus that scrapes the exporter.')
    .current({ text: 'Prometheus', value: DATASOURCES.prometheus.uid });
}

export function postgresVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('postgres')
    .label('Postgres')
    .type('grafana-postgresql-datasource')
    .description("The app's Postgres, read through the read-only cc_grafana role.")
    .current({ text: 'Postgres', value: DATASOURCES.postgres.uid });
}

/** A multi-value variable of a label's values; "All" matches any value (`.*`). */
export function labelVariable(name: string, label: string, metric: string, description: string): dashboard.QueryVariableBuilder {
  const query = `label_values(${metric}, ${name})`;
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(PROMETHEUS)
    .query({ qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
}

/** Where on-call's browser reaches the exporter: the alert tables link its /alerts/ack. */
export const exporterUrlVariable = () =>
  new dashboard.TextBoxVariableBuilder('exporter_url')
    .label('Exporter URL')
    .description("The exporter's address as your browser reaches it, for the Acknowledge links (its /alerts/ack asks for your name and ACK_AUTH_TOKEN).")
    .defaultValue('http://localhost:9464')
    .current({ text: 'http://localhost:9464', value: 'http://localhost:9464' })
    .hide(dashboard.VariableHide.HideVariable);

export const storeVariable = () => labelVariable('store', 'Store', 'cc_orders_active', 'Stores, by slug, as the order collector labels them.');
export const environmentVariable = () =>
  labelVariable('environment', 'Environment', 'cc_deployment_info', 'Deployment environments that have a row in deployment_log; the browser and edge-function panels show the telemetry whose env label (deployment.environment.name) is one of them.');
/** The series that carry the telemetry's service, env and release labels, for the variables that list them. */
const TELEMETRY_SERIES = '{__name__=~"cc_page_views_total|cc_edge_function_duration_seconds_count"}';
export const serviceVariable = () =>
  labelVariable('service', 'Service', TELEMETRY_SERIES, 'Where the telemetry comes from: the service.name of the browser app (web-otel) or of the edge functions.');
export const releaseVariable = () =>
  labelVariable('release', 'Release', TELEMETRY_SERIES, 'The service.version of the telemetry: pick one release, or two to compare them; "unknown" is telemetry that names none.');
/** The browser and edge-function series of the selected environments, services and releases. */
export const TELEMETRY = 'env=~"$environment", service=~"$service", release=~"$release"';

// ---------------------------------------------------------------------------------------------
// Annotations: every deploy on every time series

export function deployAnnotations(): dashboard.AnnotationQueryBuilder[] {
  return [
    // Every deploy of the selected environments, from deployment_log: staging's never land on
    // production's graphs. A rollback says where it went back to, and why.
    new dashboard.AnnotationQueryBuilder()
      .name('Deploys')
      .datasource(POSTGRES)
      .enable(true)
      .iconColor('blue')
      .target(
        sql(`
          SELECT d.deployed_at AS "time",
                 coalesce(d.finished_at, d.deployed_at) AS "timeEnd",
                 format('%s %s (%s): %s%s', d.environment, coalesce(d.version, '?'), left(coalesce(d.commit_sha, '?'), 7), d.status,
                        CASE WHEN d.status = 'rolled_back'
                             THEN format(' to %s: %s', coalesce(t.version, t.deployment_id), coalesce(d.metadata #>> '{rollback,reason}', '?'))
                             ELSE '' END) AS text,
                 'deploy,env:' || d.environment || ',' || d.status AS tags
            FROM public.deployment_log d
            LEFT JOIN public.deployment_log t ON t.id = d.rollback_target_id
           WHERE $__timeFilter(d.deployed_at)
             AND d.environment ~ '^(\${environment:regex})$'
           ORDER BY d.deployed_at`),
      ),
    // The notes cc-ops writes into Grafana (tagged deploy, env:<environment>), every environment.
    new dashboard.AnnotationQueryBuilder()
      .name('cc-ops notes (all environments)')
      .datasource(GRAFANA_ANNOTATIONS)
      .enable(false)
      .iconColor('purple')
      .target(new dashboard.AnnotationTargetBuilder().type('tags').tags(['deploy']).matchAny(true).limit(100) as unknown as Builder<Dataquery>),
  ];
}

// ---------------------------------------------------------------------------------------------
// Panels

export interface PanelSpec {
  /** a fixed panel id, for panels that links point at (alerts' dashboard_url); others are numbered in order */
  id?: number;
  title: string;
  /** what the panel shows and how to read it; Grafana shows it as the panel's (i) */
  description: string;
  /** a Grafana unit id (see the SDK's units module) */
  unit: string;
  targets: Builder<Dataquery>[];
  /** width in grid columns (24 = full width) */
  width?: number;
  height?: number;
}

function place<T extends { id(id: number): T; span(w: number): T; height(h: number): T; title(t: string): T; description(d: string): T; unit(u: string): T; withTarget(t: Builder<Dataquery>): T }>(
  panel: T,
  spec: PanelSpec,
  defaults: { width: number; height: number },
): T {
  panel.title(spec.title).description(spec.description).unit(spec.unit).span(spec.width ?? defaults.width).height(spec.height ?? defaults.height);
  if (spec.id !== undefined) panel.id(spec.id);
  for (const target of spec.targets) panel.withTarget(target);
  return panel;
}

export interface TimeseriesSpec extends PanelSpec {
  /** threshold lines drawn on the graph: [value, color], from low to high */
  thresholds?: [number, string][];
  stacked?: boolean;
  min?: number;
  max?: number;
}

export function timeseriesPanel(spec: TimeseriesSpec): timeseries.PanelBuilder {
  const panel = place(new timeseries.PanelBuilder().datasource(panelDatasource(spec.targets)), spec, { width: 12, height: 8 })
    .fillOpacity(spec.stacked ? 60 : 10)
    .lineWidth(1)
    .showPoints(common.VisibilityMode.Never)
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  if (spec.stacked) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (spec.thresholds) {
    panel
      .thresholds(thresholdSteps(spec.thresholds))
      .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
  }
  return panel;
}

export interface StatSpec extends PanelSpec {
  thresholds?: [number, string][];
  /** show each value's name (cards with two numbers) */
  named?: boolean;
  /** what shows when the query returns nothing (default "No data"): never a number, which would look healthy */
  noValue?: string;
}

export function statPanel(spec: StatSpec): stat.PanelBuilder {
  const panel = place(new stat.PanelBuilder().datasource(panelDatasource(spec.targets)), spec, { width: 6, height: 5 })
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(spec.thresholds ? common.BigValueColorMode.Value : common.BigValueColorMode.None)
    .textMode(spec.named ? common.BigValueTextMode.ValueAndName : common.BigValueTextMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .noValue(spec.noValue ?? 'No data');
  if (spec.thresholds) panel.thresholds(thresholdSteps(spec.thresholds));
  return panel;
}

export interface TableSpec extends PanelSpec {
  /** per-column units and display names */
  columns?: Record<string, { unit?: string; displayName?: string; hidden?: boolean; links?: { title: string; url: string }[] }>;
  /** Prometheus instant queries, one per column, joined on these labels into one table */
  joinOn?: string;
  /** the rows of every query in one table (queries of several datasources: the same columns line up) */
  merge?: boolean;
  sortBy?: { column: string; desc: boolean };
}

export function tablePanel(spec: TableSpec): table.PanelBuilder {
  const panel = place(new table.PanelBuilder().datasource(panelDatasource(spec.targets)), spec, { width: 24, height: 9 })
    .cellHeight(common.TableCellHeight.Sm)
    .filterable(true);
  if (spec.joinOn) {
    // Instant queries in table format: one frame each; merge joins them on their labels.
    panel.withTransformation({ id: 'merge', options: {} });
    panel.withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, indexByName: {}, renameByName: {} } });
  } else if (spec.merge) {
    panel.withTransformation({ id: 'merge', options: {} });
  }
  for (const [column, options] of Object.entries(spec.columns ?? {})) {
    const properties: dashboard.DynamicConfigValue[] = [];
    if (options.unit) properties.push({ id: 'unit', value: options.unit });
    if (options.displayName) properties.push({ id: 'displayName', value: options.displayName });
    if (options.hidden) properties.push({ id: 'custom.hidden', value: true });
    if (options.links) properties.push({ id: 'links', value: options.links.map((l) => ({ ...l, targetBlank: true })) });
    panel.overrideByName(column, properties);
  }
  if (spec.sortBy) panel.sortBy([new common.TableSortByFieldStateBuilder().displayName(spec.sortBy.column).desc(spec.sortBy.desc)]);
  return panel;
}

export function thresholdSteps(steps: [number, string][]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    ...steps.map(([value, color]) => ({ value, color })),
  ]);
}

function isSql(target: Builder<Dataquery>): boolean {
  return target instanceof SqlQueryBuilder;
}

/** The panel's datasource: its queries', or Mixed when they go to several (expressions included). */
function panelDatasource(targets: Builder<Dataquery>[]): common.DataSourceRef {
  const kinds = new Set(targets.map((t) => (t instanceof expr.TypeMathBuilder ? 'expression' : isSql(t) ? 'sql' : 'prometheus')));
  if (kinds.size > 1) return MIXED;
  return kinds.has('sql') ? POSTGRES : PROMETHEUS;
}

/** A dashboard with the settings all of ours share. */
export function baseDashboard(title: string, uid: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['connect', 'generated'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .timezone('browser')
    .refresh('1m')
    .time({ from: 'now-24h', to: 'now' })
    .link(
      new dashboard.DashboardLinkBuilder('Connect dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['connect'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
}

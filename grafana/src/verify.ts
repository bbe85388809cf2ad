// Checking dashboards without a Grafana binary: every query a dashboard holds, Grafana's
// variable and macro expansion (the subset our dashboards use; an unknown macro is an error,
// not a silent pass), and the rules of Grafana's dashboard linter that fit this project.
import type { Dashboard, Panel, RowPanel, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { parser } from '@prometheus-io/lezer-promql';

export interface DashboardTarget {
  dashboard: string;
  /** the panel title, or `annotation: <name>` / `variable: <name>` */
  where: string;
  kind: 'prometheus' | 'sql' | 'expression';
  /** PromQL expression, raw SQL or a server-side math expression, as written in the dashboard */
  query: string;
  instant: boolean;
  refId?: string;
}

type AnyTarget = {
  expr?: string; rawSql?: string; expression?: string; type?: string; hide?: boolean; instant?: boolean; range?: boolean; refId?: string;
  datasource?: { type?: string; uid?: string };
};

/** Grafana's Mixed datasource (each query names its own) and its server-side expressions. */
export const MIXED_UID = '-- Mixed --';
export const EXPRESSION_TYPE = '__expr__';

export function panelsOf(board: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of (board.panels ?? []) as (Panel | RowPanel)[]) {
    if (p.type === 'row') out.push(...(((p as RowPanel).panels ?? []) as Panel[]));
    else out.push(p as Panel);
  }
  return out;
}

export function rowsOf(board: Dashboard): RowPanel[] {
  return ((board.panels ?? []) as (Panel | RowPanel)[]).filter((p): p is RowPanel => p.type === 'row');
}

/** Every query of a dashboard: panel targets, annotation queries, query variables. */
export function targetsOf(name: string, board: Dashboard): DashboardTarget[] {
  const out: DashboardTarget[] = [];
  const add = (where: string, t: AnyTarget, fallbackType?: string) => {
    const type = t.datasource?.type ?? fallbackType;
    if (t.expr !== undefined) out.push({ dashboard: name, where, kind: 'prometheus', query: t.expr, instant: t.instant === true, refId: t.refId });
    else if (t.rawSql !== undefined) out.push({ dashboard: name, where, kind: 'sql', query: t.rawSql, instant: true, refId: t.refId });
    else if (type === EXPRESSION_TYPE && t.type === 'math' && t.expression !== undefined) out.push({ dashboard: name, where, kind: 'expression', query: t.expression, instant: true, refId: t.refId });
    else if (type !== 'grafana') throw new Error(`${name} / ${where}: a target that is neither PromQL nor SQL`);
  };
  for (const panel of panelsOf(board)) {
    for (const t of (panel.targets ?? []) as AnyTarget[]) add(panel.title ?? '(untitled)', t, panel.datasource?.type);
  }
  for (const a of board.annotations?.list ?? []) {
    if (a.target) add(`annotation: ${a.name}`, a.target as AnyTarget, a.datasource?.type);
  }
  for (const v of board.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const labelValues = labelValuesOf(v);
    if (labelValues) out.push({ dashboard: name, where: `variable: ${v.name}`, kind: 'prometheus', query: labelValues.metric, instant: true });
  }
  return out;
}

/** `label_values(metric, label)` of a Prometheus query variable. */
export function labelValuesOf(v: VariableModel): { metric: string; label: string } | undefined {
  const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
  const m = q?.match(/^label_values\((.+),\s*(\w+)\)$/);
  return m ? { metric: m[1]!.trim(), label: m[2]! } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Expansion

export interface Expansion {
  /** value of every dashboard variable; an array is a multi-value selection */
  variables: Record<string, string | string[]>;
  /** Grafana's $__rate_interval, $__interval and $__range, as PromQL durations */
  rateInterval: string;
  interval: string;
  range: string;
}

/** Grafana's `regex` format for a variable value: escaped, alternatives grouped. */
function regexFormat(value: string | string[]): string {
  const escape = (s: string) => s.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
  if (value === '.*') return value; // the All value of our variables is already a regex
  const values = Array.isArray(value) ? value : [value];
  return values.length === 1 ? escape(values[0]!) : `(${values.map(escape).join('|')})`;
}

function pipeFormat(value: string | string[]): string {
  return Array.isArray(value) ? value.join('|') : value;
}

function substituteVariables(text: string, variables: Expansion['variables'], defaultFormat: (v: string | string[]) => string): string {
  return text.replace(/\$\{(\w+)(?::(\w+))?\}|\$(\w+)/g, (match, braced?: string, format?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    if (name.startsWith('__')) return match; // macros are handled by the caller
    const value = variables[name];
    if (value === undefined) throw new Error(`unknown variable $${name}`);
    if (format === undefined) return defaultFormat(value);
    if (format === 'regex') return regexFormat(value);
    if (format === 'pipe') return pipeFormat(value);
    throw new Error(`unsupported variable format :${format}`);
  });
}

/** A PromQL expression as Grafana sends it to Prometheus (multi-value defaults to regex format). */
export function expandPromql(expr: string, e: Expansion): string {
  const withMacros = expr.replace(/\$__rate_interval/g, e.rateInterval).replace(/\$__interval/g, e.interval).replace(/\$__range/g, e.range);
  const expanded = substituteVariables(withMacros, e.variables, (v) => (Array.isArray(v) ? regexFormat(v) : v));
  const unknown = expanded.match(/\$__\w+/);
  if (unknown) throw new Error(`unsupported macro ${unknown[0]} in ${expr}`);
  return expanded;
}

/** What Prometheus' HTTP API answers to a query (instant: value; range: values). */
export interface PromResult {
  resultType: string;
  result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
}

/** A query through Prometheus' HTTP API (`/api/v1/query` or `/api/v1/query_range`), as Grafana sends it. */
export async function queryPrometheus(baseUrl: string, path: string, params: Record<string, string>): Promise<PromResult> {
  const res = await fetch(`${baseUrl}${path}`, { method: 'POST', body: new URLSearchParams(params) });
  const body = (await res.json()) as { status: string; data?: PromResult; error?: string };
  if (body.status !== 'success' || !body.data) throw new Error(`${params.query}: ${body.error ?? `HTTP ${res.status}`}`);
  return body.data;
}

export interface SqlRange {
  from: Date;
  to: Date;
}

/**
 * SQL as Grafana's PostgreSQL datasource runs it: variables substituted (multi-value as a quoted
 * list), then the time macros of the datasource's documentation expanded.
 */
export function expandSql(rawSql: string, range: SqlRange, variables: Expansion['variables']): string {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const ts = (d: Date) => `'${d.toISOString()}'`;
  let text = substituteVariables(rawSql, variables, (v) => (Array.isArray(v) ? v.map(quote).join(',') : v));
  const macros: Record<string, (args: string[]) => string> = {
    __timeFilter: ([col]) => `${col} BETWEEN ${ts(range.from)} AND ${ts(range.to)}`,
    __timeFrom: () => ts(range.from),
    __timeTo: () => ts(range.to),
    __time: ([col]) => `${col} AS "time"`,
    __timeEpoch: ([col]) => `extract(epoch from ${col}) AS "time"`,
    __unixEpochFilter: ([col]) => `${col} >= ${Math.floor(range.from.getTime() / 1000)} AND ${col} <= ${Math.floor(range.to.getTime() / 1000)}`,
    __timeGroup: ([col, interval]) => `floor(extract(epoch from ${col})/${seconds(interval!)})*${seconds(interval!)}`,
    __timeGroupAlias: ([col, interval]) => `floor(extract(epoch from ${col})/${seconds(interval!)})*${seconds(interval!)} AS "time"`,
  };
  text = text.replace(/\$(__\w+)(?:\(([^()]*)\))?/g, (match, name: string, args?: string) => {
    const macro = macros[name];
    if (!macro) throw new Error(`unsupported macro $${name} in SQL`);
    return macro((args ?? '').split(',').map((a) => a.trim().replace(/^'(.*)'$/, '$1')));
  });
  return text;
}

function seconds(duration: string): number {
  const m = duration.match(/^(\d+)(s|m|h|d)$/);
  if (!m) throw new Error(`unsupported interval ${duration}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

// ---------------------------------------------------------------------------------------------
// PromQL

/** Syntax errors of a (variable-free) PromQL expression, as the Prometheus UI's parser sees them. */
export function promqlSyntaxErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: …${expr.slice(Math.max(0, node.from - 20), node.from + 20)}…`);
    },
  });
  return errors;
}

const COUNTER_LIKE = /(_total|_count|_sum|_bucket)$/;
const RATE_FUNCTIONS = new Set(['rate', 'irate', 'increase']);

/**
 * Problems of Grafana's linter rules that read PromQL: every rate/irate/increase uses
 * $__rate_interval (or $__range, our declared exception for totals over the time range), and
 * every counter (`_total`, `_count`, `_sum`, `_bucket`) is read through one of them.
 * `expr` is the dashboard's text, before expansion.
 */
export function promqlLintProblems(expr: string): string[] {
  const problems: string[] = [];
  for (const m of expr.matchAll(/\b(rate|irate|increase)\s*\(([^[]*)\[([^\]]+)\]/g)) {
    if (m[3] !== '$__rate_interval' && m[3] !== '$__range') problems.push(`${m[1]}() over [${m[3]}]: use $__rate_interval (or $__range for a total over the time range)`);
  }
  // Parse the expanded form so that the tree is free of Grafana syntax.
  const expanded = expr.replace(/\$__rate_interval|\$__range|\$__interval/g, '5m').replace(/\$\{?\w+(?::\w+)?\}?/g, 'x');
  const tree = parser.parse(expanded);
  const cursor = tree.cursor();
  const visit = (insideRate: boolean): void => {
    do {
      const name = cursor.type.name;
      let inside = insideRate;
      if (name === 'FunctionCall') {
        const fn = cursor.node.getChild('FunctionIdentifier');
        if (fn && RATE_FUNCTIONS.has(expanded.slice(fn.from, fn.to))) inside = true;
      }
      if (name === 'VectorSelector') {
        const id = cursor.node.getChild('Identifier');
        const metric = id ? expanded.slice(id.from, id.to) : '';
        if (COUNTER_LIKE.test(metric) && !insideRate) problems.push(`counter ${metric} read without rate(), irate() or increase()`);
      }
      if (cursor.firstChild()) {
        visit(inside);
        cursor.parent();
      }
    } while (cursor.nextSibling());
  };
  visit(false);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Dashboard lint

export const VALID_UNITS = new Set<string>((Object.values(units) as unknown[]).filter((v): v is string => typeof v === 'string'));

export interface ProvisionedDatasource {
  uid: string;
  type: string;
}

/** Problems of one dashboard against the linter rules that fit, and against provisioning. */
export function lintDashboard(name: string, board: Dashboard, provisioned: ProvisionedDatasource[]): string[] {
  const problems: string[] = [];
  const at = (where: string, message: string) => problems.push(`${name} / ${where}: ${message}`);
  const variables = board.templating?.list ?? [];
  const byUid = new Map(provisioned.map((d) => [d.uid, d]));

  if (!board.uid) at('dashboard', 'no uid');
  if (!board.title) at('dashboard', 'no title');

  // template-datasource-rule: a datasource variable of type prometheus named `datasource`.
  const dsVariables = variables.filter((v) => v.type === 'datasource');
  const promVariable = dsVariables.find((v) => v.name === 'datasource');
  if (!promVariable || promVariable.query !== 'prometheus') at('variables', 'no datasource variable `datasource` of type prometheus');
  // Every datasource variable defaults to a provisioned datasource of its type.
  for (const v of dsVariables) {
    const uid = (v.current?.value as string | undefined) ?? '';
    const ds = byUid.get(uid);
    if (!ds) at(`variable: ${v.name}`, `defaults to datasource uid "${uid}", which provisioning does not define`);
    else if (ds.type !== v.query) at(`variable: ${v.name}`, `type ${String(v.query)} but its default ${uid} is a ${ds.type}`);
  }
  const dsVariableNames = new Set(dsVariables.map((v) => v.name));
  const resolvesToProvisioned = (ref: { uid?: string; type?: string } | undefined, where: string) => {
    const uid = ref?.uid ?? '';
    const variable = uid.match(/^\$\{?(\w+)\}?$/)?.[1];
    if (ref?.type === 'grafana' || ref?.type === EXPRESSION_TYPE || (ref?.type === 'datasource' && uid === MIXED_UID)) return;
    if (variable) {
      if (!dsVariableNames.has(variable)) at(where, `datasource variable $${variable} does not exist`);
    } else if (!byUid.has(uid)) at(where, `datasource uid "${uid}" is not provisioned`);
  };

  // template-on-time-change-reload-rule and template-label-promql-rule.
  for (const v of variables.filter((v) => v.type === 'query')) {
    if (v.refresh !== 2) at(`variable: ${v.name}`, 'query variables must refresh on time range change (refresh: 2)');
    const lv = labelValuesOf(v);
    if (!lv) at(`variable: ${v.name}`, 'query is not label_values(metric, label)');
    else for (const e of promqlSyntaxErrors(lv.metric)) at(`variable: ${v.name}`, e);
    resolvesToProvisioned(v.datasource, `variable: ${v.name}`);
  }

  for (const a of board.annotations?.list ?? []) resolvesToProvisioned(a.datasource, `annotation: ${a.name}`);

  const ids = new Set<number>();
  for (const p of (board.panels ?? []) as (Panel | RowPanel)[]) {
    if (p.id === undefined || ids.has(p.id)) at(p.title ?? '(untitled)', `missing or duplicate panel id ${p.id}`);
    else ids.add(p.id);
    const g = p.gridPos;
    if (!g || g.x < 0 || g.w <= 0 || g.x + g.w > 24) at(p.title ?? '(untitled)', 'panel outside the 24-column grid');
  }

  for (const panel of panelsOf(board)) {
    const where = panel.title || '(untitled)';
    // panel-title-description-rule
    if (!panel.title?.trim()) at(where, 'no title');
    if (!panel.description?.trim()) at(where, 'no description');
    // panel-units-rule: a valid unit on every panel, and on every override that sets one.
    const unit = panel.fieldConfig?.defaults?.unit;
    if (!unit) at(where, 'no unit');
    else if (!VALID_UNITS.has(unit)) at(where, `unknown unit "${unit}"`);
    for (const o of panel.fieldConfig?.overrides ?? []) {
      for (const prop of o.properties ?? []) {
        if (prop.id === 'unit' && !VALID_UNITS.has(prop.value as string)) at(where, `override with unknown unit "${String(prop.value)}"`);
      }
    }
    // panel-datasource-rule: through a datasource variable that resolves to provisioning, or
    // Mixed, whose every query goes through one (or is an expression over the others).
    const mixed = panel.datasource?.type === 'datasource' && panel.datasource.uid === MIXED_UID;
    if (!mixed && !/^\$\{?\w+\}?$/.test(panel.datasource?.uid ?? '')) at(where, 'panel datasource is not a datasource variable');
    resolvesToProvisioned(panel.datasource, where);
    const targets = (panel.targets ?? []) as AnyTarget[];
    if (targets.length === 0) at(where, 'no queries');
    if (targets.every((t) => t.hide)) at(where, 'every query is hidden');
    const refIds = new Set(targets.map((t) => t.refId));
    for (const t of targets) {
      resolvesToProvisioned(t.datasource, where);
      const expression = t.datasource?.type === EXPRESSION_TYPE;
      if (mixed && !expression && !/^\$\{?\w+\}?$/.test(t.datasource?.uid ?? '')) at(where, 'a query of a Mixed panel is not through a datasource variable');
      if (!mixed && !expression && t.datasource?.uid !== panel.datasource?.uid) at(where, 'a query uses another datasource than its panel');
      if (expression) {
        if (t.type !== 'math' || !t.expression) at(where, `expression ${t.refId}: only math expressions are checked here`);
        for (const m of (t.expression ?? '').matchAll(/\$\{?(\w+)\}?/g)) {
          if (!refIds.has(m[1]) || m[1] === t.refId) at(where, `expression ${t.refId} reads $${m[1]}, which is no other query of the panel`);
        }
      }
      if (t.expr !== undefined) {
        for (const p of promqlLintProblems(t.expr)) at(where, p);
        const expanded = expandPromql(t.expr, { variables: Object.fromEntries(variables.map((v) => [v.name, '.*'])), rateInterval: '5m', interval: '1m', range: '1h' });
        for (const e of promqlSyntaxErrors(expanded)) at(where, e);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Alerts

/** Where a panel reads alerts from: Prometheus's ALERTS (firing), or alert_history (firing rows). */
export interface AlertReads {
  /** of `names`, those a firing ALERTS selector of the panel matches */
  prometheus: string[];
  /** of `names`, those a query of alert_history's firing rows selects */
  alertHistory: string[];
}

type Matcher = { label: string; op: string; value: string };

function accepts(m: Matcher, value: string): boolean {
  if (m.op === '=') return value === m.value;
  if (m.op === '!=') return value !== m.value;
  const re = new RegExp(`^(?:${m.value})$`); // PromQL regexes are anchored
  return m.op === '=~' ? re.test(value) : !re.test(value);
}

/** The label matchers of every `metric` selector in a PromQL expression. */
function selectorsOf(expr: string, metric: string): Matcher[][] {
  const text = expr.replace(/\$__(rate_interval|interval|range)\b/g, (m) => `${'1'.repeat(m.length - 1)}s`);
  const out: Matcher[][] = [];
  parser.parse(text).iterate({
    enter(node) {
      if (node.type.name !== 'VectorSelector') return;
      const id = node.node.getChild('Identifier');
      if (!id || text.slice(id.from, id.to) !== metric) return;
      const matchers = node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
      out.push(matchers.map((m) => ({
        label: text.slice(m.getChild('LabelName')!.from, m.getChild('LabelName')!.to),
        op: text.slice(m.getChild('MatchOp')!.from, m.getChild('MatchOp')!.to),
        value: JSON.parse(text.slice(m.getChild('StringLiteral')!.from, m.getChild('StringLiteral')!.to)) as string,
      })));
    },
  });
  return out;
}

/** Which of `names` a panel's queries read from ALERTS and which from alert_history. */
export function alertReadsOf(panel: Panel, names: string[]): AlertReads {
  const reads: AlertReads = { prometheus: [], alertHistory: [] };
  for (const t of (panel.targets ?? []) as AnyTarget[]) {
    if (t.expr !== undefined) {
      for (const matchers of selectorsOf(t.expr, 'ALERTS')) {
        if (!matchers.some((m) => m.label === 'alertstate' && m.op === '=' && m.value === 'firing')) continue;
        const byName = matchers.filter((m) => m.label === 'alertname');
        reads.prometheus.push(...names.filter((n) => byName.every((m) => accepts(m, n))));
      }
    }
    if (t.rawSql !== undefined && /\bFROM\s+public\.alert_history\b/.test(t.rawSql) && /\bstatus\s*=\s*'firing'/.test(t.rawSql)) {
      const list = t.rawSql.match(/\balertname\s+IN\s*\(([^)]*)\)/);
      const selected = list ? [...list[1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]!) : names;
      reads.alertHistory.push(...names.filter((n) => selected.includes(n)));
    }
  }
  return { prometheus: [...new Set(reads.prometheus)], alertHistory: [...new Set(reads.alertHistory)] };
}

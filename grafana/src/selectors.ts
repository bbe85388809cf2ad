// Which scrape job a dashboard series comes from, in one place. Dashboard code writes its PromQL
// without any job matcher; every series selector of every query (panels, annotations, variables)
// is then given the selector of the process that serves it: the exporter's, Alertmanager's or
// Prometheus's own. The defaults are the mixin's `_config` defaults (prometheus/config.libsonnet)
// and the job names of prometheus/prometheus.yml, so the provisioned dashboards work as they are;
// the mixin (prometheus/dashboards.libsonnet) replaces them with the `_config` a user sets, and
// prometheus/mixin-dashboards.test.ts checks that it yields exactly what this module yields for those selectors.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { parser } from '@prometheus-io/lezer-promql';

/** The label matchers of each scrape job, as `_config` spells them (exporterSelector, …). */
export interface Selectors {
  exporter: string;
  alertmanager: string;
  prometheus: string;
}

/** `_config`'s defaults: the jobs of prometheus/prometheus.yml. */
export const DEFAULT_SELECTORS: Selectors = {
  exporter: 'job="cc-exporter"',
  alertmanager: 'job="alertmanager"',
  prometheus: 'job="prometheus"',
};

/** The `_config` field of each selector. */
export const CONFIG_FIELDS: Record<keyof Selectors, string> = {
  exporter: 'exporterSelector',
  alertmanager: 'alertmanagerSelector',
  prometheus: 'prometheusSelector',
};

/**
 * Whose series a metric is: Alertmanager's and Prometheus's own metrics by their prefix, none for
 * the series Prometheus makes itself (ALERTS) and recording rules (a colon: they aggregate over
 * jobs, so carry none), and the exporter's for everything else (cc_*, its Node.js runtime
 * metrics, and the up / scrape_* series of its target).
 */
export function jobOf(metric: string | undefined): keyof Selectors | undefined {
  if (metric === undefined) return 'exporter'; // {__name__=~"cc_…"}: our queries name no other job's series that way
  if (metric === 'ALERTS' || metric === 'ALERTS_FOR_STATE' || metric.includes(':')) return undefined;
  if (metric.startsWith('alertmanager_')) return 'alertmanager';
  if (metric.startsWith('prometheus_')) return 'prometheus';
  return 'exporter';
}

/** Grafana's interval macros as PromQL durations of the same length, so that offsets in the parse are offsets in the text. */
export function maskMacros(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, (m) => `${'1'.repeat(m.length - 1)}s`);
}

/**
 * `expr` with the selector of its job added to every series selector, first among its matchers:
 * `rate(cc_events_total[$__rate_interval])` → `rate(cc_events_total{job="cc-exporter"}[$__rate_interval])`.
 * A selector that already names a job is an error: jobs come from here only.
 */
export function injectSelectors(expr: string, selectors: Selectors): string {
  const masked = maskMacros(expr);
  const tree = parser.parse(masked);
  const inserts: { at: number; text: string }[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}`);
      if (node.type.name !== 'VectorSelector') return;
      const id = node.node.getChild('Identifier');
      const metric = id ? masked.slice(id.from, id.to) : undefined;
      const job = jobOf(metric);
      if (!job) return;
      const matchers = node.node.getChild('LabelMatchers');
      if (!matchers) {
        inserts.push({ at: id!.to, text: `{${selectors[job]}}` });
        return;
      }
      const inner = masked.slice(matchers.from + 1, matchers.to - 1);
      if (/(^|[\s,{])job\s*(=|!=|=~|!~)/.test(inner)) errors.push(`a hand-written job matcher in ${masked.slice(node.from, node.to)}`);
      inserts.push({ at: matchers.from + 1, text: inner.trim() === '' ? selectors[job] : `${selectors[job]}, ` });
    },
  });
  if (errors.length > 0) throw new Error(`${expr}: ${errors.join('; ')}`);
  let out = expr;
  for (const { at, text } of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, at) + text + out.slice(at);
  return out;
}

/**
 * Series selectors of `expr` that lack the matchers of their job's selector, as text: what a
 * dashboard query must never hold (an exporter series read from any job, or from the default one
 * after the mixin was given another).
 */
export function missingSelectors(expr: string, selectors: Selectors): string[] {
  type Node = { from: number; to: number; getChildren(type: string): Node[] };
  const matchersOf = (text: string, matchers: Node | null): string[] =>
    matchers ? [...matchers.getChildren('UnquotedLabelMatcher'), ...matchers.getChildren('QuotedLabelMatcher')].map((m) => text.slice(m.from, m.to).replace(/\s+/g, '')) : [];
  const wanted = (job: keyof Selectors): string[] => {
    const text = `{${selectors[job]}}`;
    const found = matchersOf(text, parser.parse(text).topNode.getChild('VectorSelector')?.getChild('LabelMatchers') ?? null);
    if (found.length === 0) throw new Error(`not a list of label matchers: ${selectors[job]}`);
    return found;
  };
  const masked = maskMacros(expr);
  const missing: string[] = [];
  parser.parse(masked).iterate({
    enter(node) {
      if (node.type.name !== 'VectorSelector') return;
      const id = node.node.getChild('Identifier');
      const job = jobOf(id ? masked.slice(id.from, id.to) : undefined);
      if (!job) return;
      const have = matchersOf(masked, node.node.getChild('LabelMatchers'));
      if (!wanted(job).every((m) => have.includes(m))) missing.push(`${expr.slice(node.from, node.to)} (a series of the ${job} without ${selectors[job]})`);
    },
  });
  return missing;
}

/** A query variable's `label_values(<series>, <label>)` with the selector injected into its series. */
function injectLabelValues(query: string, selectors: Selectors): string {
  const m = query.match(/^label_values\((.+),\s*(\w+)\)$/);
  if (!m) throw new Error(`a query variable that is not label_values(series, label): ${query}`);
  return `label_values(${injectSelectors(m[1]!.trim(), selectors)}, ${m[2]})`;
}

/** The dashboard with the job selectors injected into every PromQL query it holds (in place). */
export function withSelectors(board: Dashboard, selectors: Selectors): Dashboard {
  type Target = { expr?: string };
  const inject = (t: Target | undefined) => {
    if (t?.expr !== undefined) t.expr = injectSelectors(t.expr, selectors);
  };
  const panels = (board.panels ?? []).flatMap((p) => [p, ...((p as { panels?: typeof board.panels }).panels ?? [])]);
  for (const panel of panels) for (const t of ((panel as { targets?: Target[] }).targets ?? [])) inject(t);
  for (const a of board.annotations?.list ?? []) inject(a.target as Target | undefined);
  for (const v of board.templating?.list ?? []) {
    if (v.type !== 'query' || v.datasource?.type !== 'prometheus') continue;
    const query = v.query as { query?: string } | string | undefined;
    if (typeof query === 'string') v.query = injectLabelValues(query, selectors);
    else if (query?.query !== undefined) query.query = injectLabelValues(query.query, selectors);
    if (v.definition !== undefined) v.definition = injectLabelValues(v.definition, selectors);
  }
  return board;
}

// The generated dashboards: committed and reproducible, lint-clean against the rules of Grafana's
// dashboard linter that fit, pointing only at provisioned datasources, and covering every card and
// tab of the old System Health page. The queries themselves run in dashboards.e2e.test.ts.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deploymentsDashboardUrl } from '../../exporter/src/ops/deploy/alertmanager.js';
import { DATASOURCES } from './common.js';
import { DASHBOARDS_DIR, staleDashboards } from './generate.js';
import { DASHBOARDS } from './index.js';
import { DEFAULT_SELECTORS, injectSelectors, missingSelectors } from './selectors.js';
import { webVitals } from './web-vitals.js';
import { PUSHED_ALERTS } from './alerts.js';
import { alertReadsOf, expandPromql, expandSql, lintDashboard, panelsOf, promqlLintProblems, promqlSyntaxErrors, rowsOf, targetsOf, type ProvisionedDatasource } from './verify.js';

const PROVISIONING = new URL('../provisioning/', import.meta.url);

function provisionedDatasources(): ProvisionedDatasource[] {
  const dir = new URL('datasources/', PROVISIONING);
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => (parse(readFileSync(new URL(f, dir), 'utf8')) as { datasources?: ProvisionedDatasource[] }).datasources ?? []);
}

const committed = (file: string) => JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard;

describe('generated dashboards', () => {
  it('are committed exactly as the code generates them', () => {
    expect(staleDashboards()).toEqual({ stale: [], stray: [] });
    expect(Object.keys(DASHBOARDS).sort()).toEqual(['exporter.json', 'system-health.json', 'web-vitals.json']);
  });

  it('the check notices an edited, a missing and a stray file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-dashboards-'));
    try {
      cpSync(DASHBOARDS_DIR, dir, { recursive: true });
      expect(staleDashboards(dir)).toEqual({ stale: [], stray: [] });
      const edited = committed('exporter.json');
      edited.title = 'Edited by hand';
      writeFileSync(join(dir, 'exporter.json'), `${JSON.stringify(edited, null, 2)}\n`);
      rmSync(join(dir, 'web-vitals.json'));
      writeFileSync(join(dir, 'old.json'), '{}\n');
      expect(staleDashboards(dir)).toEqual({ stale: ['web-vitals.json', 'exporter.json'], stray: ['old.json'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('use only the datasources provisioning defines, with the same uids and types', () => {
    const provisioned = provisionedDatasources();
    for (const ds of Object.values(DATASOURCES)) expect(provisioned).toContainEqual(expect.objectContaining({ uid: ds.uid, type: ds.type }));
  });

  it.each(Object.keys(DASHBOARDS))('%s passes the dashboard lint rules', (file) => {
    expect(lintDashboard(file, committed(file), provisionedDatasources())).toEqual([]);
  });

  it.each(Object.keys(DASHBOARDS))('%s has unique uid and parseable PromQL in every target', (file) => {
    const board = committed(file);
    const targets = targetsOf(file, board);
    expect(targets.length).toBeGreaterThan(5);
    const vars = Object.fromEntries((board.templating?.list ?? []).map((v) => [v.name, '.*']));
    for (const t of targets.filter((t) => t.kind === 'prometheus')) {
      const expr = expandPromql(t.query, { variables: vars, rateInterval: '1m', interval: '15s', range: '24h' });
      expect(promqlSyntaxErrors(expr), `${t.where}: ${expr}`).toEqual([]);
    }
    const uids = Object.keys(DASHBOARDS).map((f) => committed(f).uid);
    expect(new Set(uids).size).toBe(uids.length);
  });
});

describe('job selectors', () => {
  const selectors = { exporter: 'job="x", namespace="n"', alertmanager: 'job="am"', prometheus: 'job="p"' };

  it('every series selector of every committed query carries the selector of its job', () => {
    let checked = 0;
    for (const file of Object.keys(DASHBOARDS)) {
      for (const t of targetsOf(file, committed(file)).filter((t) => t.kind === 'prometheus')) {
        expect(missingSelectors(t.query, DEFAULT_SELECTORS), `${file} / ${t.where}: ${t.query}`).toEqual([]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(60);
    // Those of Alertmanager's metrics carry Alertmanager's, not the exporter's.
    expect(JSON.stringify(committed('system-health.json'))).toContain('alertmanager_alerts{job=\\"alertmanager\\"}');
  });

  it('are added to each series selector: with matchers, without, by __name__, in ranges and under Grafana macros', () => {
    expect(injectSelectors('sum(rate(cc_events_total{event_type="x"}[$__rate_interval])) / up', selectors))
      .toBe('sum(rate(cc_events_total{job="x", namespace="n", event_type="x"}[$__rate_interval])) / up{job="x", namespace="n"}');
    expect(injectSelectors('cc_up{} or {__name__=~"cc_a|cc_b"}', selectors)).toBe('cc_up{job="x", namespace="n"} or {job="x", namespace="n", __name__=~"cc_a|cc_b"}');
    expect(injectSelectors('sum by (state) (alertmanager_alerts) + prometheus_rule_evaluation_failures_total offset 5m', selectors))
      .toBe('sum by (state) (alertmanager_alerts{job="am"}) + prometheus_rule_evaluation_failures_total{job="p"} offset 5m');
    expect(injectSelectors('time() - max(cc_backup_last_success_timestamp_seconds{store=~"$store"}[$__range])', selectors))
      .toBe('time() - max(cc_backup_last_success_timestamp_seconds{job="x", namespace="n", store=~"$store"}[$__range])');
  });

  it('leave the series Prometheus makes (ALERTS) and recording rules alone, and refuse a hand-written job', () => {
    expect(injectSelectors('count(ALERTS{alertstate="firing"}) or vector(0)', selectors)).toBe('count(ALERTS{alertstate="firing"}) or vector(0)');
    expect(injectSelectors('cc:api_error_ratio:rate5m > 0', selectors)).toBe('cc:api_error_ratio:rate5m > 0');
    expect(() => injectSelectors('up{job="cc-exporter"}', selectors)).toThrow(/hand-written job matcher/);
    expect(() => injectSelectors('sum(rate(x[5m])', selectors)).toThrow(/syntax error/);
  });

  it('the check finds a series without its selector, or with the default one after an override', () => {
    expect(missingSelectors('sum(cc_up) + up{job="x", namespace="n"}', selectors)).toEqual(['cc_up (a series of the exporter without job="x", namespace="n")']);
    expect(missingSelectors('max(cc_up{job="cc-exporter"})', selectors)).toHaveLength(1);
    expect(missingSelectors('alertmanager_alerts{job="x", namespace="n"}', selectors)).toHaveLength(1);
    expect(missingSelectors('ALERTS{alertstate="firing"}', selectors)).toEqual([]);
  });
});

describe('the System Health dashboard replaces the old page', () => {
  const board = committed('system-health.json');
  const titles = panelsOf(board).map((p) => p.title);

  it('has the uid the alerts link to', () => {
    expect(board.uid).toBe('cc-system-health');
    const rules = readFileSync(new URL('../../prometheus/rules/connect.yml', import.meta.url), 'utf8');
    expect(rules).toContain('/d/cc-system-health');
  });

  it("every alert's dashboard_url opens a dashboard and panel that exist", () => {
    const files = ['../../prometheus/rules/connect.yml', '../../prometheus/tests/connect-alerts.test.yml'];
    const boards = new Map(Object.keys(DASHBOARDS).map((f) => [committed(f).uid, committed(f)]));
    let links = 0;
    for (const file of files) {
      const text = readFileSync(new URL(file, import.meta.url), 'utf8');
      for (const m of text.matchAll(/dashboard_url: \S+\/d\/([\w-]+)\/[\w-]+(?:\?viewPanel=panel-(\d+))?\s/g)) {
        links += 1;
        const target = boards.get(m[1]!);
        expect(target, `${file}: dashboard ${m[1]}`).toBeDefined();
        if (m[2]) expect(panelsOf(target!).map((p) => p.id), `${file}: panel ${m[2]}`).toContain(Number(m[2]));
      }
      // any other form of link would escape the check above
      expect(text.match(/dashboard_url:/g)?.length ?? 0).toBe([...text.matchAll(/dashboard_url: \S+\/d\/([\w-]+)\/[\w-]+(?:\?viewPanel=panel-(\d+))?\s/g)].length);
    }
    expect(links).toBeGreaterThan(15);
  });

  it('the link of the rollback alert cc-ops pushes opens the Deployment history panel', () => {
    const panel = deploymentsDashboardUrl('https://grafana.example/').match(/\/d\/cc-system-health\/system-health\?viewPanel=panel-(\d+)$/)?.[1];
    expect(panelsOf(board).find((p) => p.id === Number(panel))?.title).toBe('Deployment history');
  });

  it('has the four overview cards first, then one row per tab of the page', () => {
    const cards = (board.panels ?? []).slice(0, 4) as Panel[];
    expect(cards.map((p) => [p.type, p.title])).toEqual([
      ['stat', 'Errors'],
      ['stat', 'Active alerts'],
      ['stat', 'API latency'],
      ['stat', 'Order health'],
    ]);
    expect(rowsOf(board).map((r) => r.title)).toEqual(['Errors', 'Latency', 'Alerts', 'Orders', 'Deployments', 'Database and backups']);
    for (const title of ['Recent errors', 'Error rate by type', 'API latency by endpoint', 'Active alerts', 'Alert history', 'Completion rate',
      'Active orders by status and store', 'Stuck orders by status and store', 'Order completion time', 'Revenue per hour', 'Deployment history']) {
      expect(titles).toContain(title);
    }
  });

  it('the latency table has the columns of the old one: avg, p50, p95, p99, count, errors', () => {
    const latency = panelsOf(board).find((p) => p.title === 'API latency by endpoint')!;
    const names = (latency.fieldConfig?.overrides ?? []).flatMap((o) => (o.properties ?? []).filter((p) => p.id === 'displayName').map((p) => p.value));
    expect(names).toEqual(['Average', 'p50', 'p95', 'p99', 'Requests', 'Errors']);
    expect(((latency.targets ?? []) as { refId?: string }[]).map((t) => t.refId)).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  });

  it('never shows a healthy number when a stat panel has no data: "No data", or "never" for the time since something', () => {
    for (const file of Object.keys(DASHBOARDS)) {
      for (const panel of panelsOf(committed(file)).filter((p) => p.type === 'stat')) {
        const noValue = (panel.fieldConfig?.defaults as { noValue?: string } | undefined)?.noValue;
        expect(noValue, `${file}: ${panel.title}`).toBeDefined();
        expect(Number.isNaN(Number(noValue)), `${file}: ${panel.title} shows "${noValue}" without data`).toBe(true);
        if (/^Since the last/.test(panel.title ?? '')) expect(noValue, `${file}: ${panel.title}`).toBe('never');
      }
    }
  });

  it('puts the deploys of the selected environments on every time series (deployment_log), and cc-ops notes on demand', () => {
    for (const file of Object.keys(DASHBOARDS)) {
      const list = committed(file).annotations?.list ?? [];
      const deploys = list.find((a) => a.name === 'Deploys');
      expect(deploys, file).toMatchObject({ enable: true, datasource: { type: DATASOURCES.postgres.type, uid: '${postgres}' } });
      const rawSql = (deploys?.target as { rawSql?: string } | undefined)?.rawSql ?? '';
      expect(rawSql).toContain("d.environment ~ '^(${environment:regex})$'");
      const notes = list.find((a) => a.name === 'cc-ops notes (all environments)');
      expect(notes, file).toMatchObject({ enable: false, datasource: { type: 'grafana' }, target: { type: 'tags', tags: ['deploy'] } });
    }
  });

  it('has datasource, store, environment, service and release variables, and the exporter URL of the Acknowledge links', () => {
    expect((board.templating?.list ?? []).map((v) => v.name)).toEqual(['datasource', 'postgres', 'store', 'environment', 'service', 'release', 'exporter_url']);
  });

  it('filters every browser and edge-function query by environment, service and release', () => {
    const families = /cc_(api_request_duration_seconds|frontend_errors_total|page_views_total|user_actions_total|web_vital_\w+|edge_function_duration_seconds)/;
    for (const b of [board, webVitals().build()]) {
      const queries = panelsOf(b).flatMap((p) => ((p.targets ?? []) as { expr?: string }[]).map((t) => t.expr ?? '')).filter((q) => families.test(q));
      expect(queries.length).toBeGreaterThan(3);
      for (const q of queries) expect(q, q).toContain('env=~"$environment", service=~"$service", release=~"$release"');
    }
    expect(panelsOf(board).map((p) => p.title)).toEqual(expect.arrayContaining(['Edge functions: p95 duration', 'Edge function calls by status']));
  });

  it('shows who acknowledged each occurrence in the alert history, with a link that acknowledges it', () => {
    const history = panelsOf(board).find((p) => p.title === 'Alert history')!;
    const sqlText = ((history.targets ?? []) as { rawSql?: string }[]).map((t) => t.rawSql ?? '').join('\n');
    for (const column of ['acknowledged_by', 'acknowledged_at', 'ack_note', 'am_state']) expect(sqlText).toContain(column);
    const links = (history.fieldConfig?.overrides ?? []).find((o) => (o.matcher as { options?: string })?.options === 'Acknowledge')?.properties?.find((p) => p.id === 'links')?.value;
    expect(links).toEqual([{ title: 'Acknowledge this occurrence', url: '${exporter_url}/alerts/ack?id=${__data.fields.id}', targetBlank: true }]);
  });
});

describe('the Active alerts panels list every alert', () => {
  const board = committed('system-health.json');
  const panels = panelsOf(board).filter((p) => p.title === 'Active alerts');
  const repo = new URL('../../', import.meta.url);

  // The source of truth: the alerts of the mixin's rules, and the alerts the code pushes.
  interface RuleFile { groups: { rules: { alert?: string; expr: string }[] }[] }
  const rules = (parse(readFileSync(new URL('prometheus/rules/connect.yml', repo), 'utf8')) as RuleFile).groups.flatMap((g) => g.rules).filter((r) => r.alert);
  const ruleNames = [...new Set(rules.map((r) => r.alert!))];
  const sourceFiles = (dir: string): string[] =>
    readdirSync(new URL(dir, repo), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|mjs|js|ya?ml|sh)$/.test(f) && !/\.test\.ts$|(^|\/)(node_modules|dist)\//.test(f)).map((f) => `${dir}${f}`);
  const code = ['exporter/src/', 'scripts/', '.github/', 'edge/', 'web-otel/src/'].flatMap(sourceFiles);
  const read = (file: string) => readFileSync(new URL(file, repo), 'utf8');
  /** Every alert some code pushes to Alertmanager: the alert names of the modules that call pushAlerts. */
  const pushers = code.filter((f) => f.endsWith('.ts') && /\bpushAlerts\(/.test(read(f)) && !f.endsWith('deploy/alertmanager.ts'));
  const pushedNames = [...new Set(pushers.flatMap((f) => [...read(f).matchAll(/\balertname: '(\w+)'/g)].map((m) => m[1]!)))];
  const heartbeat = rules.filter((r) => r.expr.trim() === 'vector(1)').map((r) => r.alert!);
  const every = [...new Set([...ruleNames, ...pushedNames])].filter((n) => !heartbeat.includes(n));

  /** What a panel would miss or count twice: a pushed alert not read from alert_history (Prometheus never has it), a rule's not from ALERTS. */
  const problemsOf = (panel: Panel): string[] => {
    const reads = alertReadsOf(panel, [...every, ...heartbeat]);
    return [
      ...every.filter((n) => (pushedNames.includes(n) ? !reads.alertHistory.includes(n) : !reads.prometheus.includes(n))).map((n) => `misses ${n}`),
      ...every.filter((n) => reads.prometheus.includes(n) && reads.alertHistory.includes(n)).map((n) => `counts ${n} twice`),
      ...heartbeat.filter((n) => reads.prometheus.includes(n) || reads.alertHistory.includes(n)).map((n) => `shows the always-firing ${n}`),
    ];
  };

  it('the truth is derived: the rules, the always-firing heartbeat, and the alerts cc-ops pushes', () => {
    expect(ruleNames.length).toBeGreaterThan(20);
    expect(heartbeat).toEqual(['Watchdog']);
    expect(pushers).toEqual(['exporter/src/ops/deploy/rollback.ts']);
    expect(pushedNames.sort()).toEqual(['DeploymentRollbackFailed', 'DeploymentRolledBack']);
    expect(ruleNames).not.toContain('DeploymentRollbackFailed'); // pushed only: never in Prometheus's ALERTS
    // The dashboard's list is the code's.
    expect([...PUSHED_ALERTS].sort()).toEqual(pushedNames.sort());
    // No other way of raising an alert in Alertmanager: its POST /api/v2/alerts is pushAlerts',
    // and the exporter's reconciler, which only posts back resolutions of alerts Alertmanager held.
    const posting = code.filter((f) => /POST[^\n]*(\n[^\n]*){0,2}api\/v2\/alerts|api\/v2\/alerts[^\n]*(\n[^\n]*){0,2}POST|amtool\s+alert\s+add/.test(read(f)));
    expect(posting.sort()).toEqual(['exporter/src/hooks/reconcile.ts', 'exporter/src/ops/deploy/alertmanager.ts']);
  });

  it('the card and the table read every alert, each from one place, the heartbeat from none', () => {
    expect(panels.map((p) => p.type)).toEqual(['stat', 'table']);
    for (const panel of panels) expect(problemsOf(panel), `${panel.type} Active alerts`).toEqual([]);
  });

  it('the card adds up what the two datasources count, and its critical count reads the same alerts', () => {
    const card = panels.find((p) => p.type === 'stat')!;
    const targets = (card.targets ?? []) as { refId?: string; hide?: boolean; expression?: string; severity?: string }[];
    const shown = targets.filter((t) => !t.hide);
    expect(shown.map((t) => [t.refId, t.expression])).toEqual([['Firing', '$A + $B'], ['Critical', '$C + $D']]);
    const only = (refIds: string[]) => alertReadsOf({ ...card, targets: targets.filter((t) => refIds.includes(t.refId!)) } as Panel, every);
    expect(only(['C', 'D'])).toEqual(only(['A', 'B']));
    expect(only(['A', 'B'])).toEqual(alertReadsOf(card, every));
    const text = JSON.stringify(targets.filter((t) => ['C', 'D'].includes(t.refId!)));
    expect(text).toContain('severity=\\"critical\\"');
    expect(text).toContain("severity = 'critical'");
  });

  it('the check finds the panel of before, which missed DeploymentRollbackFailed, and a rule left out', () => {
    const before = { ...panels[0]!, targets: [{ refId: 'A', expr: 'count(ALERTS{alertstate="firing", alertname!="Watchdog"}) or vector(0)' }] } as unknown as Panel;
    expect(problemsOf(before)).toEqual(['misses DeploymentRolledBack', 'misses DeploymentRollbackFailed']);
    const table = panels[1]!;
    const narrowed = {
      ...table,
      targets: (table.targets as { expr?: string }[]).map((t) => (t.expr ? { ...t, expr: t.expr.replace('HighErrorRate|', '') } : t)),
    } as Panel;
    expect(problemsOf(narrowed)).toEqual(['misses HighErrorRate']);
  });
});

describe('the lint rules catch what they are for', () => {
  const provisioned = [
    { uid: 'cc-prometheus', type: 'prometheus' },
    { uid: 'cc-postgres', type: 'grafana-postgresql-datasource' },
  ];
  const base = (): Dashboard => structuredClone(committed('exporter.json'));
  const firstPanel = (b: Dashboard) => panelsOf(b)[0]!;

  it('a missing description, an unknown unit, a fixed datasource uid', () => {
    const b = base();
    delete firstPanel(b).description;
    firstPanel(b).fieldConfig!.defaults.unit = 'furlongs';
    firstPanel(b).datasource = { type: 'prometheus', uid: 'some-other-prometheus' };
    const problems = lintDashboard('x', b, provisioned).join('\n');
    expect(problems).toContain('no description');
    expect(problems).toContain('unknown unit "furlongs"');
    expect(problems).toContain('panel datasource is not a datasource variable');
    expect(problems).toContain('datasource uid "some-other-prometheus" is not provisioned');
  });

  it('a datasource variable defaulting to something provisioning does not define', () => {
    const b = base();
    b.templating!.list![0]!.current = { text: 'x', value: 'gone' };
    expect(lintDashboard('x', b, provisioned).join('\n')).toContain('defaults to datasource uid "gone"');
  });

  it('in a Mixed panel: a query with a fixed datasource, an expression over a query that is not there, every query hidden', () => {
    const b = structuredClone(committed('system-health.json'));
    const card = panelsOf(b).find((p) => p.title === 'Active alerts' && p.type === 'stat')!;
    expect(card.datasource).toEqual({ type: 'datasource', uid: '-- Mixed --' });
    expect(lintDashboard('x', b, provisionedDatasources())).toEqual([]);
    const targets = card.targets as { refId?: string; hide?: boolean; expression?: string; datasource?: { type?: string; uid?: string } }[];
    targets[0]!.datasource = { type: 'prometheus', uid: 'some-prometheus' };
    targets.find((t) => t.refId === 'Firing')!.expression = '$A + $Z';
    const problems = lintDashboard('x', b, provisionedDatasources()).join('\n');
    expect(problems).toContain('a query of a Mixed panel is not through a datasource variable');
    expect(problems).toContain('expression Firing reads $Z, which is no other query of the panel');
    for (const t of targets) t.hide = true;
    expect(lintDashboard('x', b, provisionedDatasources()).join('\n')).toContain('every query is hidden');
  });

  it('a fixed rate window, a bare counter and a syntax error', () => {
    expect(promqlLintProblems('sum(rate(cc_events_total[5m]))')).toEqual(['rate() over [5m]: use $__rate_interval (or $__range for a total over the time range)']);
    expect(promqlLintProblems('sum(cc_events_total)')).toEqual(['counter cc_events_total read without rate(), irate() or increase()']);
    expect(promqlLintProblems('histogram_quantile(0.9, sum by (le) (rate(x_bucket{a=~"$store"}[$__rate_interval])))')).toEqual([]);
    expect(promqlSyntaxErrors('sum(rate(x[5m])')).not.toEqual([]);
  });
});

describe('macro and variable expansion', () => {
  const range = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-01T01:00:00Z') };

  it('expands the SQL time macros and variables the way the PostgreSQL datasource does', () => {
    expect(expandSql("SELECT 1 WHERE $__timeFilter(created_at) AND s ~ '^(${store:regex})$' AND e IN ($env)", range, { store: ['down.town', 'harbor'], env: ['a', "o'b"] })).toBe(
      "SELECT 1 WHERE created_at BETWEEN '2026-01-01T00:00:00.000Z' AND '2026-01-01T01:00:00.000Z' AND s ~ '^((down\\.town|harbor))$' AND e IN ('a','o''b')",
    );
    expect(expandSql('SELECT $__timeGroupAlias(t, 5m)', range, {})).toBe('SELECT floor(extract(epoch from t)/300)*300 AS "time"');
    expect(() => expandSql('SELECT $__schema()', range, {})).toThrow('unsupported macro $__schema');
    expect(() => expandSql('SELECT $nope', range, {})).toThrow('unknown variable $nope');
  });

  it('expands PromQL intervals and multi-value variables as regex', () => {
    const e = { variables: { store: ['a', 'b'], page: '.*' }, rateInterval: '1m', interval: '15s', range: '24h' };
    expect(expandPromql('rate(x{store=~"$store",page=~"${page}"}[$__rate_interval]) + increase(y[$__range])', e)).toBe('rate(x{store=~"(a|b)",page=~".*"}[1m]) + increase(y[24h])');
  });
});

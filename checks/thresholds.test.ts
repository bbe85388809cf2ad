// One source for thresholds and panel ids (thresholds.json): the mixin's _config takes its
// defaults from it and the committed rules carry them; every threshold step of the dashboards
// is either one of its values or listed below as the dashboard's own; the panels alerts link to
// have its ids; changing a value in the file changes the rendered rules and the dashboards; and
// what cannot read the file (web-otel rates vitals with web-vitals' thresholds, the exporter has
// its defaults in its config and rates a vital that comes without a rating) agrees with it. Without jsonnet the mixin's part skips.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { CLSThresholds, FCPThresholds, INPThresholds, LCPThresholds, TTFBThresholds } from 'web-vitals';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { eventSamples } from '../exporter/src/collectors/events.js';
import { DEFAULTS as EXPORTER_DEFAULTS } from '../exporter/src/config.js';
import { deploymentsDashboardUrl } from '../exporter/src/ops/deploy/alertmanager.js';
import { findTool } from '../exporter/test/support/tools.js';
import { exporter } from '../grafana/src/exporter-dashboard.js';
import { DASHBOARDS, finalize, render } from '../grafana/src/index.js';
import { systemHealth } from '../grafana/src/system-health.js';
import { percentOf, spokenSeconds, THRESHOLDS, THRESHOLDS_FILE, type Thresholds } from '../grafana/src/thresholds.js';
import { panelsOf } from '../grafana/src/verify.js';
import { webVitals } from '../grafana/src/web-vitals.js';

const jsonnet = findTool('jsonnet');
const noJsonnet = jsonnet.skip !== undefined;
const root = new URL('../', import.meta.url);
const scratch = mkdtempSync(join(tmpdir(), 'cc-thresholds-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Rule { alert?: string; record?: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleFile { groups: { rules: Rule[] }[] }

function jsonnetEval<T>(code: string, cwd: string | URL = root): T {
  const result = spawnSync(jsonnet.path!, ['-e', code], { encoding: 'utf8', cwd, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`jsonnet: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

const alertsOf = (file: RuleFile) => file.groups.flatMap((g) => g.rules).filter((r) => r.alert);
function alert(file: RuleFile, name: string, severity?: string): Rule {
  const rule = alertsOf(file).find((r) => r.alert === name && (severity === undefined || r.labels?.severity === severity));
  if (!rule) throw new Error(`no alert ${name}`);
  return rule;
}

/** Where each alert threshold shows in its expression: what the committed rules must read. */
function expressions(t: Thresholds['alerts']): [string, string | undefined, string][] {
  return [
    ['HighErrorRate', undefined, `cc:api_error_ratio:rate15m > ${t.highErrorRateThreshold} and cc:api_requests:increase15m >= ${t.apiMinRequests}`],
    ['HighApiLatency', undefined, `cc:api_latency_seconds:p95_rate5m > ${t.highApiLatencyThresholdSeconds} and cc:api_requests:increase5m >= ${t.apiMinRequests}`],
    ['StuckOrders', undefined, `) > ${t.stuckOrdersThreshold}`],
    ['PaymentFailures', undefined, `[5m])) > ${t.paymentFailuresThreshold}`],
    ['LowDiskSpace', 'warning', `) > ${t.lowDiskSpaceWarningThreshold}`],
    ['LowDiskSpace', 'critical', `) > ${t.lowDiskSpaceCriticalThreshold}`],
    ['DbConnectionPoolSaturated', undefined, `) > ${t.dbConnectionSaturationThreshold}`],
    ['EventCursorBehind', undefined, `) > ${t.eventCursorBehindSeconds}`],
    ['BackupTooOld', undefined, ` > ${t.backupMaxAgeHours} * 3600)`],
    ['MaintenanceNotRunning', undefined, ` > ${t.maintenanceMaxAgeMinutes} * 60)`],
  ];
}

/** The panel each alert links to, by its key in linkedPanels (the others link to the dashboard). */
const LINKS: Record<string, keyof Thresholds['systemHealth']['linkedPanels']> = {
  HighErrorRate: 'apiErrors',
  ApiTrafficAbsent: 'apiErrors',
  HighApiLatency: 'apiLatency',
  StuckOrders: 'stuckOrders',
  OrdersAutoHealed: 'stuckOrders',
  PaymentFailures: 'paymentFailures',
  LowDiskSpace: 'dbSize',
  DbConnectionPoolSaturated: 'dbConnections',
  DeploymentRolledBack: 'deployments',
  BackupTooOld: 'backups',
};

/** Every numeric value of the file changed (and the panel ids moved), to see what follows it. */
function changed(t: Thresholds): Thresholds {
  const bump = (v: number) => (v === 0 ? 3 : v * 2);
  const map = <T extends Record<string, number>>(o: T): T => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, bump(v)])) as T;
  return {
    alerts: map(t.alerts),
    exporterDefaults: map(t.exporterDefaults),
    webVitals: Object.fromEntries(Object.entries(t.webVitals).map(([k, v]) => [k, map(v)])) as Thresholds['webVitals'],
    systemHealth: { uid: `${t.systemHealth.uid}-other`, linkedPanels: Object.fromEntries(Object.entries(t.systemHealth.linkedPanels).map(([k, v]) => [k, v + 100])) as Thresholds['systemHealth']['linkedPanels'] },
  };
}

const builders = (t?: Thresholds): Record<string, Dashboard> => ({
  'system-health.json': finalize(systemHealth(t).build()),
  'web-vitals.json': finalize(webVitals(t).build()),
  'exporter.json': finalize(exporter(t).build()),
});

type Steps = { value: number | null; color: string }[];
const stepsOf = (panel: Panel): Steps => ((panel.fieldConfig?.defaults?.thresholds?.steps ?? []) as Steps).filter((s) => s.value !== null);

/** Threshold steps that are the dashboards' own (no alert, no vital): [dashboard, panel title, value]. */
const OWN_STEPS: [string, string, number][] = [
  ['system-health.json', 'Errors', 1],
  ['system-health.json', 'Active alerts', 1],
  ['system-health.json', 'Completion rate', 0.9],
  ['system-health.json', 'Stuck orders by status and store', 1],
  ['system-health.json', 'Rollbacks', 1],
  ['exporter.json', 'Event cursor backlog', 1000],
  ['exporter.json', 'Event loop delay', 0.1],
  ['exporter.json', 'Event cursor backlog', 1000],
];

describe('thresholds.json, the one source of thresholds and linked panels', () => {
  it('is what the dashboards generate from: committed dashboards are the default build', () => {
    expect(JSON.parse(readFileSync(THRESHOLDS_FILE, 'utf8'))).toEqual(THRESHOLDS);
    for (const [file, board] of Object.entries(builders())) expect(render(board), file).toBe(render(DASHBOARDS[file]!()));
  });

  it.skipIf(noJsonnet)("gives the mixin's _config its defaults", () => {
    const config = jsonnetEval<Record<string, unknown>>('(import "prometheus/config.libsonnet")._config');
    for (const [field, value] of Object.entries(THRESHOLDS.alerts)) expect(config[field], field).toBe(value);
    expect(config.systemHealthDashboardUid).toBe(THRESHOLDS.systemHealth.uid);
  });

  it('the committed rules read its thresholds and link to its panels', () => {
    const rules = parse(readFileSync(new URL('prometheus/rules/connect.yml', root), 'utf8')) as RuleFile;
    for (const [name, severity, part] of expressions(THRESHOLDS.alerts)) expect(alert(rules, name, severity).expr, name).toContain(part);
    expect(alert(rules, 'MaintenanceNotRunning').annotations?.description).toContain(`It should run every ${THRESHOLDS.exporterDefaults.maintenanceIntervalMinutes} minutes`);
    const { uid, linkedPanels } = THRESHOLDS.systemHealth;
    for (const rule of alertsOf(rules)) {
      const panel = LINKS[rule.alert!];
      expect(rule.annotations?.dashboard_url, rule.alert).toBe(`http://localhost:3000/d/${uid}/system-health${panel ? `?viewPanel=panel-${linkedPanels[panel]}` : ''}`);
    }
  });

  it.skipIf(noJsonnet)('a changed file changes the rendered rules and their links', () => {
    // The mixin as vendored (prometheus/ and the dashboards it imports) beside an edited thresholds.json.
    for (const dir of ['prometheus', 'grafana/dashboards']) cpSync(new URL(dir, root), join(scratch, dir), { recursive: true });
    const other = changed(THRESHOLDS);
    writeFileSync(join(scratch, 'thresholds.json'), JSON.stringify(other));
    const rules = jsonnetEval<RuleFile>('(import "prometheus/mixin.libsonnet").ruleFile', scratch);
    for (const [name, severity, part] of expressions(other.alerts)) expect(alert(rules, name, severity).expr, name).toContain(part);
    expect(alert(rules, 'HighErrorRate').annotations?.summary).toBe('More than 10% of API requests are failing.');
    expect(alert(rules, 'MaintenanceNotRunning').annotations?.description).toContain(`It should run every ${other.exporterDefaults.maintenanceIntervalMinutes} minutes`);
    for (const rule of alertsOf(rules).filter((r) => LINKS[r.alert!])) {
      expect(rule.annotations?.dashboard_url, rule.alert).toMatch(new RegExp(`/d/${other.systemHealth.uid}/system-health\\?viewPanel=panel-${other.systemHealth.linkedPanels[LINKS[rule.alert!]!]}$`));
    }
    // And a _config override on top of the file, as a Kubernetes user writes it, wins.
    const override = jsonnetEval<RuleFile>('((import "prometheus/mixin.libsonnet") + { _config+:: { highErrorRateThreshold: 0.2 } }).ruleFile', scratch);
    expect(alert(override, 'HighErrorRate').expr).toContain('cc:api_error_ratio:rate15m > 0.2 and');
  });

  it("every dashboard threshold step is one of its values, or listed as the dashboard's own", () => {
    const before = builders();
    const after = builders(changed(THRESHOLDS));
    const own: [string, string, number][] = [];
    let followed = 0;
    for (const [file, board] of Object.entries(before)) {
      const others = panelsOf(after[file]!);
      for (const [i, panel] of panelsOf(board).entries()) {
        const steps = stepsOf(panel);
        const moved = stepsOf(others[i]!);
        steps.forEach((step, j) => {
          if (step.value === moved[j]?.value) own.push([file, panel.title!, step.value!]);
          else followed += 1;
        });
      }
    }
    expect(own).toEqual(OWN_STEPS);
    // API error ratio (two), API latency (card: two, graphs: two), backups, maintenance, 5 vitals x 2
    expect(followed).toBe(18);
  });

  it("every description that states an alert threshold, a vital rating or maintenance's interval states its value", () => {
    const before = builders();
    const after = builders(changed(THRESHOLDS));
    const states = /fires|warns|threshold|good up to|every \d+ minutes/i;
    const unchanged: string[] = [];
    let stated = 0;
    for (const [file, board] of Object.entries(before)) {
      const others = panelsOf(after[file]!);
      for (const [i, panel] of panelsOf(board).entries()) {
        if (!states.test(panel.description ?? '') || !/\d/.test(panel.description ?? '')) continue;
        if (others[i]!.description === panel.description) unchanged.push(`${file} / ${panel.title}`);
        else stated += 1;
      }
    }
    // Numbers that are no threshold of the file: CollectorFailing fires on a success of 0.
    expect(unchanged).toEqual(['exporter.json / Collector success']);
    // System Health: 9 (the API latency card, both error ratios, the latency graph, order health,
    // stuck orders, database size and connections, backups, order health by hour: maintenance's
    // interval); exporter: the cursor, maintenance's interval; 5 vitals
    expect(stated).toBe(17);
  });

  it('the panels the alerts link to have its ids, in the generated dashboard and with other ids', () => {
    for (const t of [THRESHOLDS, changed(THRESHOLDS)]) {
      const board = finalize(systemHealth(t).build());
      expect(board.uid).toBe(t.systemHealth.uid);
      const ids = panelsOf(board).map((p) => p.id);
      for (const id of Object.values(t.systemHealth.linkedPanels)) expect(ids.filter((i) => i === id), `panel ${id}`).toHaveLength(1);
    }
  });

  it("web-vitals' own thresholds (web-otel's ratings) are its web vitals", () => {
    const published = { LCP: LCPThresholds, INP: INPThresholds, CLS: CLSThresholds, FCP: FCPThresholds, TTFB: TTFBThresholds };
    expect(Object.fromEntries(Object.entries(published).map(([name, [good, poor]]) => [name, { good, poor }]))).toEqual(THRESHOLDS.webVitals);
  });

  it("the documents' _config defaults and alert expressions are its values", () => {
    const doc = (file: string) => readFileSync(new URL(`docs/${file}`, root), 'utf8');
    // kubernetes.md: | `field`, `field` | `default`, `default` | what |
    const defaults = new Map<string, string>();
    for (const m of doc('kubernetes.md').matchAll(/^\| (`\w+`(?:, `\w+`)*) \| ([^|]+) \|/gm)) {
      const fields = m[1]!.split(', ').map((f) => f.slice(1, -1));
      const values = m[2]!.split(', ').map((v) => v.trim().replace(/^`|`$/g, ''));
      fields.forEach((f, i) => defaults.set(f, values[i]!));
    }
    for (const [field, value] of Object.entries(THRESHOLDS.alerts)) expect(defaults.get(field), `kubernetes.md: ${field}`).toBe(String(value));
    // alerting.md: the PromQL column of the six alerts of the Phase 9 report
    const a = THRESHOLDS.alerts;
    const promql = new Map([...doc('alerting.md').matchAll(/^\| `(\w+)` \((\w+)\) \| [^|]+ \| `([^`]+)`/gm)].map((m) => [`${m[1]} ${m[2]}`, m[3]!]));
    const rows: [string, string][] = [
      ['HighErrorRate critical', `rate15m > ${a.highErrorRateThreshold} and cc:api_requests:increase15m >= ${a.apiMinRequests}`],
      ['HighApiLatency warning', `p95_rate5m > ${a.highApiLatencyThresholdSeconds} and cc:api_requests:increase5m >= ${a.apiMinRequests}`],
      ['StuckOrders warning', `) > ${a.stuckOrdersThreshold}`],
      ['PaymentFailures critical', `) > ${a.paymentFailuresThreshold}`],
      ['LowDiskSpace warning', `) > ${a.lowDiskSpaceWarningThreshold}`],
      ['LowDiskSpace critical', `) > ${a.lowDiskSpaceCriticalThreshold}`],
      ['DbConnectionPoolSaturated critical', `) > ${a.dbConnectionSaturationThreshold}`],
    ];
    for (const [row, part] of rows) expect(promql.get(row), `alerting.md: ${row}`).toMatch(new RegExp(`${part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  });

  it('each runbook states its alert\'s threshold (docs/runbooks.md, "Means:")', () => {
    const runbooks = readFileSync(new URL('docs/runbooks.md', root), 'utf8');
    const means = (alertName: string) => runbooks.split(/^## /m).find((section) => section.startsWith(`${alertName}\n`))?.match(/\*\*Means:\*\*([^]*?)\n\n/)?.[1]?.replace(/\s+/g, ' ') ?? '';
    const { alerts: a, exporterDefaults: e } = THRESHOLDS;
    const p = percentOf;
    const stated: [string, string][] = [
      ['HighErrorRate', `more than ${p(a.highErrorRateThreshold)}% of the API requests`],
      ['HighApiLatency', `above ${a.highApiLatencyThresholdSeconds} s`],
      ['StuckOrders', `${e.stuckOrderMinutes} minutes for each by default`],
      ['LowDiskSpace', `more than ${p(a.lowDiskSpaceWarningThreshold)}% (warning) or ${p(a.lowDiskSpaceCriticalThreshold)}% (critical)`],
      ['DbConnectionPoolSaturated', `more than ${p(a.dbConnectionSaturationThreshold)}% of \`max_connections\``],
      ['EventCursorBehind', `waited more than ${spokenSeconds(a.eventCursorBehindSeconds)}`],
      ['BackupTooOld', `more than ${a.backupMaxAgeHours} hours ago`],
      ['MaintenanceNotRunning', `for ${spokenSeconds(a.maintenanceMaxAgeMinutes * 60).replace(/^1 hour$/, 'an hour')} (it should every ${e.maintenanceIntervalMinutes} minutes)`],
    ];
    for (const [alertName, text] of stated) expect(means(alertName), alertName).toContain(text);
  });

  it('the exporter rates a vital that comes without a rating by its bounds', () => {
    const rated = (metric: string, value: number) =>
      eventSamples({ created_at: new Date(), event_type: 'performance', event_data: { metric, value, page: '/' } }, { routePatterns: [], storeName: () => 'unknown' })
        .find((s) => s.kind === 'observe')?.labels.rating;
    for (const [name, { good, poor }] of Object.entries(THRESHOLDS.webVitals)) {
      const above = name === 'CLS' ? 0.001 : 1; // CLS is unitless, the others milliseconds
      expect([good, good + above, poor, poor + above].map((v) => rated(name, v)), name).toEqual(['good', 'needs-improvement', 'needs-improvement', 'poor']);
    }
  });

  it("the exporter's defaults are the ones the dashboards state, and its rollback alert links to its panel", () => {
    const minutes = (spec: string) => Object.fromEntries(spec.split(',').map((p) => p.split('=')).map(([status, d]) => [status, d!.endsWith('h') ? Number(d!.slice(0, -1)) * 60 : Number(d!.slice(0, -1))]));
    const { stuckOrderMinutes, autoHealPreparingMinutes, autoHealReadyMinutes, maintenanceIntervalMinutes } = THRESHOLDS.exporterDefaults;
    expect(EXPORTER_DEFAULTS.MAINTENANCE_INTERVAL).toBe(`${maintenanceIntervalMinutes}m`);
    // pg_cron's schedule, where it runs maintenance instead of the exporter
    expect(readFileSync(new URL('sql/migrations/007_maintenance_schedule.sql', root), 'utf8')).toContain(`p_schedule text DEFAULT '*/${maintenanceIntervalMinutes} * * * *'`);
    expect(minutes(EXPORTER_DEFAULTS.STUCK_ORDER_THRESHOLDS)).toEqual({ pending: stuckOrderMinutes, confirmed: stuckOrderMinutes, preparing: stuckOrderMinutes, ready: stuckOrderMinutes });
    expect(minutes(EXPORTER_DEFAULTS.AUTO_HEAL_THRESHOLDS)).toEqual({ preparing: autoHealPreparingMinutes, ready: autoHealReadyMinutes });
    const { uid, linkedPanels } = THRESHOLDS.systemHealth;
    expect(deploymentsDashboardUrl()).toBe(`http://localhost:3000/d/${uid}/system-health?viewPanel=panel-${linkedPanels.deployments}`);
  });
});

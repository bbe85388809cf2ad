// The monitoring mixin of prometheus/ (jsonnet): the committed rule files are exactly what it
// renders, the rendering is valid for promtool with the default and an overridden _config (and
// carries the override, down to when an alert fires), every series a rule reads carries the
// selector of its job (the dashboards' mapping, grafana/src/selectors.ts), and grafanaDashboards
// serves the generated dashboards with the datasources of _config. Without jsonnet it skips; in
// CI that is an error.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { findTool } from '../exporter/test/support/tools.js';
import { repoPaths } from '../exporter/src/ops/stack/processes.js';

const jsonnet = findTool('jsonnet');
const promtool = findTool('promtool');
const noJsonnet = jsonnet.skip !== undefined;
const noTools = noJsonnet || promtool.skip !== undefined;

type MixinConfig = Record<string, string | number | null>;
type Job = 'exporter' | 'alertmanager' | 'prometheus';
type Selectors = Record<Job, string>;

// Which job's selector a series gets is decided in one place, grafana/src/selectors.ts (the
// dashboards'); the rules are checked against the same code. Loaded at run time: the exporter's
// tsconfig (rootDir src) compiles nothing outside exporter/src.
interface SelectorsModule {
  DEFAULT_SELECTORS: Selectors;
  CONFIG_FIELDS: Record<Job, string>;
  /** Series selectors of expr that lack the matchers of their job's selector. */
  missingSelectors(expr: string, selectors: Selectors): string[];
  /** expr with its job's selector added first to every series selector (none on records and ALERTS). */
  injectSelectors(expr: string, selectors: Selectors): string;
}
const { DEFAULT_SELECTORS, CONFIG_FIELDS, missingSelectors, injectSelectors } =
  (await import(/* @vite-ignore */ pathToFileURL(join(repoPaths.root, 'grafana/src/selectors.ts')).href)) as SelectorsModule;
const JOBS: Job[] = ['exporter', 'alertmanager', 'prometheus'];
const asConfig = (selectors: Selectors): MixinConfig => Object.fromEntries(JOBS.map((job) => [CONFIG_FIELDS[job], selectors[job]]));
interface Rule { record?: string; alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleFile { groups: { name: string; rules: Rule[] }[] }
interface DatasourceVariable { type: string; name: string; current: { value: string } }
interface Board { uid: string; templating: { list: DatasourceVariable[] } }

function run(tool: string, args: string[]): { status: number | null; output: string; stdout: string } {
  const result = spawnSync(tool, args, { encoding: 'utf8', cwd: repoPaths.root, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

// jsonnet's output is a pure function of its arguments and the .libsonnet files, which no test
// here changes: each rendering runs once (each takes about 3 s of CPU).
const rendered = new Map<string, string>();
function jsonnetOut(args: string[]): string {
  const key = JSON.stringify(args);
  const cached = rendered.get(key);
  if (cached !== undefined) return cached;
  const result = run(jsonnet.path!, args);
  if (result.status !== 0) throw new Error(`jsonnet ${args.join(' ')}: ${result.output}`);
  rendered.set(key, result.stdout);
  return result.stdout;
}

/** prometheus/rules/connect.yml as the mixin renders it (what `npm run rules` writes). */
function renderRuleFile(config: MixinConfig = {}): string {
  return jsonnetOut(['-S', '--tla-code', `config=${JSON.stringify(config)}`, 'prometheus/connect-rules.jsonnet']);
}

/** A field of the mixin with `config` over _config, as JSON. */
function mixinField<T>(field: 'ruleFile' | 'grafanaDashboards', config: MixinConfig = {}): T {
  const code = `function(config) ((import "prometheus/mixin.libsonnet") + { _config+:: config }).${field}`;
  return JSON.parse(jsonnetOut(['--tla-code', `config=${JSON.stringify(config)}`, '-e', code])) as T;
}

/** The rule files the mixin generates, by name. */
const GENERATED: Record<string, () => string> = { 'connect.yml': () => renderRuleFile() };

/** Committed rule files that differ from (or lack) their rendering, and .yml files nobody generates. */
function staleRuleFiles(dir: string): { stale: string[]; stray: string[] } {
  const stale = Object.entries(GENERATED)
    .filter(([file, render]) => !existsSync(join(dir, file)) || readFileSync(join(dir, file), 'utf8') !== render())
    .map(([file]) => file);
  const stray = readdirSync(dir).filter((f) => f.endsWith('.yml') && !(f in GENERATED));
  return { stale, stray };
}

const scratch = mkdtempSync(join(tmpdir(), 'cc-mixin-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function ruleNamed(file: RuleFile, alert: string, severity?: string): Rule {
  const rule = file.groups.flatMap((g) => g.rules).find((r) => r.alert === alert && (severity === undefined || r.labels?.severity === severity));
  if (!rule) throw new Error(`no alert ${alert}`);
  return rule;
}

// Other jobs, other thresholds and for:, other links: what a Kubernetes user sets.
const OVERRIDE: MixinConfig = {
  exporterSelector: 'job="connect/cc-exporter"',
  alertmanagerSelector: 'job="alertmanager-main", namespace="monitoring"',
  prometheusSelector: 'job="prometheus-k8s", namespace="monitoring"',
  highErrorRateThreshold: 0.1,
  highErrorRateFor: '5m',
  lowDiskSpaceWarningThreshold: 0.7,
  stuckOrdersFor: '1h',
  stateHold: '3h',
  runbookURLPattern: 'https://runbooks.example/connect#%s',
  grafanaURL: 'https://grafana.example',
  systemHealthDashboardUid: 'connect-health',
  ackURL: 'https://exporter.example/alerts/ack',
};

describe(`the monitoring mixin${jsonnet.skip ? ` (skipped: ${jsonnet.skip})` : ''}`, () => {
  it.skipIf(noJsonnet)('prometheus/rules/ holds exactly what the mixin renders (npm run rules)', () => {
    expect(staleRuleFiles(repoPaths.rules)).toEqual({ stale: [], stray: [] });
    expect(readFileSync(join(repoPaths.rules, 'connect.yml'), 'utf8')).toMatch(/^# Generated by `npm run rules` from the mixin in prometheus\//);
  });

  it.skipIf(noJsonnet)('the check notices an edited, a missing and a stray rule file', () => {
    const dir = join(scratch, 'rules');
    cpSync(repoPaths.rules, dir, { recursive: true });
    expect(staleRuleFiles(dir)).toEqual({ stale: [], stray: [] });
    const committed = readFileSync(join(dir, 'connect.yml'), 'utf8');
    writeFileSync(join(dir, 'connect.yml'), committed.replace('> 0.05 and', '> 0.06 and'));
    writeFileSync(join(dir, 'hand-written.yml'), 'groups: []\n');
    expect(staleRuleFiles(dir)).toEqual({ stale: ['connect.yml'], stray: ['hand-written.yml'] });
    rmSync(join(dir, 'connect.yml'));
    expect(staleRuleFiles(dir).stale).toEqual(['connect.yml']);
  });

  it.skipIf(noJsonnet).each([['the default', {}], ['an overridden', OVERRIDE]] as const)(
    'the rule file YAML reads back as the rules jsonnet computes (%s _config)', (_name, config) => {
      expect(parse(renderRuleFile(config))).toEqual(mixinField<RuleFile>('ruleFile', config));
    });

  it.skipIf(noJsonnet)('keeps each recording rule in the group of the alerts that read it, before them', () => {
    const file = mixinField<RuleFile>('ruleFile');
    expect(file.groups.map((g) => g.name)).toEqual(['cc-api', 'cc-orders', 'cc-database', 'cc-meta']);
    for (const group of file.groups) {
      const kinds = group.rules.map((r) => (r.record ? 'record' : 'alert')).join(' ');
      expect(kinds, group.name).toMatch(/^(record )*(alert ?)+$/);
      for (const alert of group.rules.filter((r) => r.alert)) {
        for (const used of alert.expr.match(/\bcc:[\w:]+/g) ?? []) {
          expect(group.rules.map((r) => r.record), `${alert.alert} reads ${used}`).toContain(used);
        }
      }
    }
  });

  it.skipIf(noTools)('the default rendering passes promtool check rules', () => {
    const file = join(scratch, 'default.yml');
    writeFileSync(file, renderRuleFile());
    const result = run(promtool.path!, ['check', 'rules', file]);
    expect(result.status, result.output).toBe(0);
    const rules = mixinField<RuleFile>('ruleFile').groups.flatMap((g) => g.rules).length;
    expect(rules).toBeGreaterThan(20);
    expect(result.output).toContain(`SUCCESS: ${rules} rules found`);
  });

  it.skipIf(noTools)('an overridden _config renders valid rules that carry the override', () => {
    const rendered = renderRuleFile(OVERRIDE);
    const file = join(scratch, 'override.yml');
    writeFileSync(file, rendered);
    const check = run(promtool.path!, ['check', 'rules', file]);
    expect(check.status, check.output).toBe(0);

    const rules = parse(rendered) as RuleFile;
    expect(ruleNamed(rules, 'ExporterDown').expr).toBe('up{job="connect/cc-exporter"} == 0');
    expect(ruleNamed(rules, 'ExporterAbsent').expr).toBe('absent(up{job="connect/cc-exporter"})');
    expect(rendered).not.toContain('job="cc-exporter"');
    expect(ruleNamed(rules, 'HighErrorRate')).toMatchObject({
      expr: 'cc:api_error_ratio:rate15m > 0.1 and cc:api_requests:increase15m >= 20',
      for: '5m',
      annotations: { summary: 'More than 10% of API requests are failing.' },
    });
    const held = 'last_over_time(cc:db_size:ratio[2m]) or (last_over_time(cc:db_size:ratio[3h]) unless on (job) (max by (job) (last_over_time(cc_up{job="connect/cc-exporter"}[2m])) == 1))';
    expect(ruleNamed(rules, 'LowDiskSpace', 'warning').expr).toBe(`(${held}) > 0.7`);
    expect(ruleNamed(rules, 'LowDiskSpace', 'critical').expr).toBe(`(${held}) > 0.95`);
    expect(ruleNamed(rules, 'StuckOrders')).toMatchObject({ for: '1h' });
    expect(ruleNamed(rules, 'StuckOrders').annotations?.description).toMatch(/\(STUCK_ORDER_THRESHOLDS, then 1 hour\)\.$/);
    for (const rule of rules.groups.flatMap((g) => g.rules).filter((r) => r.alert)) {
      expect(rule.annotations?.runbook_url).toBe(`https://runbooks.example/connect#${rule.alert!.toLowerCase()}`);
      expect(rule.annotations?.ack_url).toBe('https://exporter.example/alerts/ack');
      expect(rule.annotations?.dashboard_url).toMatch(/^https:\/\/grafana\.example\/d\/connect-health\/system-health(\?viewPanel=panel-\d+)?$/);
    }
  });

  it.skipIf(noTools)('with the override, promtool sees HighErrorRate fire at 10% after 5m and the new job go down', () => {
    // 15% of requests fail from 1m: pending from 1m, firing at 6m with for: 5m (2m by default would fire at 3m).
    // 8% fail on a second API: above the default 5%, below 10%: it must not page.
    const api = (status: string, values: string) =>
      ({ series: `cc_api_requests_total{job="connect/cc-exporter", instance="10.0.0.7:9464", status_class="${status}"}`, values });
    const highErrorRate = (errorsPerMinute: number) => ({
      interval: '1m',
      input_series: [api('2xx', `0+${100 - errorsPerMinute}x20`), api('5xx', `0+${errorsPerMinute}x20`)],
      alert_rule_test: errorsPerMinute === 15
        ? [
          { eval_time: '5m', alertname: 'HighErrorRate', exp_alerts: [] },
          {
            eval_time: '6m',
            alertname: 'HighErrorRate',
            exp_alerts: [{
              exp_labels: { severity: 'critical' },
              exp_annotations: {
                summary: 'More than 10% of API requests are failing.',
                description: '15% of API requests failed (5xx or network) over the last 15 minutes; the threshold is 10%.',
                runbook_url: 'https://runbooks.example/connect#higherrorrate',
                dashboard_url: 'https://grafana.example/d/connect-health/system-health?viewPanel=panel-101',
                ack_url: 'https://exporter.example/alerts/ack',
              },
            }],
          },
        ]
        : [{ eval_time: '3m', alertname: 'HighErrorRate', exp_alerts: [] }, { eval_time: '20m', alertname: 'HighErrorRate', exp_alerts: [] }],
    });
    const exporterDown = {
      interval: '1m',
      input_series: [
        { series: 'up{job="connect/cc-exporter", instance="10.0.0.7:9464"}', values: '0x10' },
        { series: 'up{job="cc-exporter", instance="exporter:9464"}', values: '0x10' },
      ],
      alert_rule_test: [
        { eval_time: '4m', alertname: 'ExporterDown', exp_alerts: [] },
        {
          eval_time: '5m',
          alertname: 'ExporterDown',
          exp_alerts: [{
            exp_labels: { severity: 'critical', job: 'connect/cc-exporter', instance: '10.0.0.7:9464' },
            exp_annotations: {
              summary: 'Prometheus cannot scrape the exporter; business alerts are blind.',
              description: 'The exporter 10.0.0.7:9464 has not answered a scrape for 5 minutes.',
              runbook_url: 'https://runbooks.example/connect#exporterdown',
              dashboard_url: 'https://grafana.example/d/connect-health/system-health',
              ack_url: 'https://exporter.example/alerts/ack',
            },
          }],
        },
      ],
    };
    // The default job's exporter is another job now: its cc_up 0 is not ours.
    const databaseUnreachable = {
      interval: '1m',
      input_series: [
        { series: 'cc_up{job="connect/cc-exporter", instance="10.0.0.7:9464"}', values: '1 0x10' },
        { series: 'cc_up{job="cc-exporter", instance="exporter:9464"}', values: '1 0x10' },
      ],
      alert_rule_test: [
        { eval_time: '5m', alertname: 'ExporterDatabaseUnreachable', exp_alerts: [] },
        {
          eval_time: '6m',
          alertname: 'ExporterDatabaseUnreachable',
          exp_alerts: [{
            exp_labels: { severity: 'critical', job: 'connect/cc-exporter', instance: '10.0.0.7:9464' },
            exp_annotations: {
              summary: 'The exporter cannot reach Postgres.',
              description: 'cc_up has been 0 on 10.0.0.7:9464 for 5 minutes: no order, deployment or database series.',
              runbook_url: 'https://runbooks.example/connect#exporterdatabaseunreachable',
              dashboard_url: 'https://grafana.example/d/connect-health/system-health',
              ack_url: 'https://exporter.example/alerts/ack',
            },
          }],
        },
      ],
    };
    const testFile = (rules: string) => {
      const file = join(scratch, `override-cases-for-${rules}`);
      writeFileSync(file, stringify({ rule_files: [rules], evaluation_interval: '1m', tests: [highErrorRate(15), highErrorRate(8), exporterDown, databaseUnreachable] }));
      return file;
    };
    writeFileSync(join(scratch, 'override.yml'), renderRuleFile(OVERRIDE));
    writeFileSync(join(scratch, 'default.yml'), renderRuleFile());

    const overridden = run(promtool.path!, ['test', 'rules', testFile('override.yml')]);
    expect(overridden.status, overridden.output).toBe(0);
    // The same cases fail on the default rules: the override is what makes them pass.
    const unchanged = run(promtool.path!, ['test', 'rules', testFile('default.yml')]);
    expect(unchanged.status).not.toBe(0);
    expect(unchanged.output).toMatch(/alertname: HighErrorRate/);
    expect(unchanged.output).toMatch(/alertname: ExporterDown/);
    expect(unchanged.output).toMatch(/alertname: ExporterDatabaseUnreachable/);
  });

  // The jobs of _config's selectors: the defaults, a Kubernetes override (every job another) and
  // the docs' namespaced exporter (its job is the default's, so only the parse can tell).
  const selectorCases: [string, Selectors][] = [
    ['the default selectors', DEFAULT_SELECTORS],
    ['overridden selectors', { exporter: OVERRIDE.exporterSelector, alertmanager: OVERRIDE.alertmanagerSelector, prometheus: OVERRIDE.prometheusSelector } as Selectors],
    ['a namespaced exporter', { ...DEFAULT_SELECTORS, exporter: 'job="cc-exporter", namespace="connect"' }],
  ];
  const exprsOf = (file: RuleFile) => file.groups.flatMap((g) => g.rules.map((r) => ({ name: `${g.name} / ${r.record ?? r.alert}`, expr: r.expr })));
  /** How many series selectors carry each job's selector. */
  const selectorCounts = (file: RuleFile, selectors: Selectors) =>
    Object.fromEntries(JOBS.map((job) => [job, exprsOf(file).reduce((n, { expr }) => n + expr.split(selectors[job]).length - 1, 0)]));

  it.skipIf(noJsonnet).each(selectorCases)('with %s, every series selector of every rule carries the selector of its job', (_name, selectors) => {
    const file = mixinField<RuleFile>('ruleFile', asConfig(selectors));
    for (const { name, expr } of exprsOf(file)) {
      // The exporter's series (cc_*, up) exporterSelector, Alertmanager's and Prometheus's own
      // theirs, parsed by the dashboards' PromQL parser: no rule reads a series of every job.
      expect(missingSelectors(expr, selectors), name).toEqual([]);
      // And no other: without them, the rule is what selectors.ts would make of it (each job's
      // selector first among its matchers, none on recorded series, no hand-written job).
      let bare = expr;
      for (const selector of Object.values(selectors)) bare = bare.split(`{${selector}}`).join('').split(`{${selector}, `).join('{');
      expect(injectSelectors(bare, selectors), name).toBe(expr);
    }
    // Every selector is replaced, none dropped: as many of each as the default rendering has.
    const counts = selectorCounts(file, selectors);
    expect(counts).toEqual(selectorCounts(mixinField<RuleFile>('ruleFile'), DEFAULT_SELECTORS));
    expect(counts.exporter).toBeGreaterThan(40);
    expect(counts.alertmanager).toBeGreaterThanOrEqual(1);
    expect(counts.prometheus).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(noJsonnet)('the check notices a rule that reads a series of every job or of the default job', () => {
    const overridden = selectorCases[1]![1];
    expect(missingSelectors('last_over_time(cc_up[2m]) == 0', DEFAULT_SELECTORS)).toHaveLength(1);
    expect(missingSelectors('last_over_time(cc_up{job="cc-exporter"}[2m]) == 0', overridden)).toHaveLength(1);
    expect(missingSelectors('sum(cc_db_connections{job="connect/cc-exporter"}) / cc_db_max_connections', overridden)).toHaveLength(1);
    expect(missingSelectors('increase(alertmanager_notifications_failed_total{job="connect/cc-exporter"}[5m])', overridden)).toHaveLength(1);
    expect(missingSelectors('cc_up{job="cc-exporter"}', selectorCases[2]![1])).toHaveLength(1);
  });

  it.skipIf(noTools)('with overridden selectors, no default job is left and promtool check rules passes', () => {
    for (const [, selectors] of selectorCases.slice(1)) {
      const rendered = renderRuleFile(asConfig(selectors));
      const file = join(scratch, 'selectors.yml');
      writeFileSync(file, rendered);
      const check = run(promtool.path!, ['check', 'rules', file]);
      expect(check.status, check.output).toBe(0);
      if (selectors === selectorCases[1]![1]) for (const selector of Object.values(DEFAULT_SELECTORS)) expect(rendered).not.toContain(selector);
    }
  });

  it.skipIf(noJsonnet)('grafanaDashboards are the generated dashboards, as committed, by default', () => {
    const boards = mixinField<Record<string, Board>>('grafanaDashboards');
    const dir = join(repoPaths.root, 'grafana/dashboards');
    expect(Object.keys(boards).sort()).toEqual(readdirSync(dir).filter((f) => f.endsWith('.json')).sort());
    for (const [file, board] of Object.entries(boards)) expect(board, file).toEqual(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    expect(boards['system-health.json']!.uid).toBe('cc-system-health');
  });

  it.skipIf(noJsonnet)('grafanaDashboards take their datasources and the System Health uid from _config', () => {
    const boards = mixinField<Record<string, Board>>('grafanaDashboards', {
      prometheusDatasourceUid: 'prometheus', postgresDatasourceUid: 'app-db', systemHealthDashboardUid: 'connect-health',
    });
    expect(Object.keys(boards).sort()).toEqual(['exporter.json', 'system-health.json', 'web-vitals.json']);
    for (const [file, board] of Object.entries(boards)) {
      const defaults = Object.fromEntries(board.templating.list.filter((v) => v.type === 'datasource').map((v) => [v.name, v.current.value]));
      expect(defaults, file).toEqual({ datasource: 'prometheus', postgres: 'app-db' });
      // Panels and annotations go through the variables: no provisioned uid is left anywhere.
      expect(JSON.stringify(board), file).not.toMatch(/"cc-(prometheus|postgres)"/);
    }
    expect(boards['system-health.json']!.uid).toBe('connect-health');
    expect(boards['exporter.json']!.uid).toBe('cc-exporter');
  });
});

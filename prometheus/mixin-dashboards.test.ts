// The dashboards as the monitoring mixin (prometheus/dashboards.libsonnet) serves them with another
// `_config`: every job selector of every query follows it, exactly as the TypeScript would have
// written them with those selectors, and nothing of the defaults is left (the rule side of the
// same override is prometheus/mixin.test.ts). Without jsonnet it skips; in CI that is
// an error.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findTool } from '../exporter/test/support/tools.js';
import { DASHBOARDS, render } from '../grafana/src/index.js';
import { CONFIG_FIELDS, DEFAULT_SELECTORS, missingSelectors, type Selectors } from '../grafana/src/selectors.js';
import { targetsOf } from '../grafana/src/verify.js';

const jsonnet = findTool('jsonnet');
const root = new URL('../', import.meta.url);

function jsonnetEval<T>(code: string): T {
  const result = spawnSync(jsonnet.path!, ['-e', code], { encoding: 'utf8', cwd: root, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`jsonnet: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** The mixin's grafanaDashboards with `config` over its _config. */
function mixinDashboards(config: Record<string, string>): Record<string, Dashboard> {
  return jsonnetEval(`((import "prometheus/mixin.libsonnet") + { _config+:: ${JSON.stringify(config)} }).grafanaDashboards`);
}

const asConfig = (selectors: Selectors): Record<string, string> =>
  Object.fromEntries(Object.entries(selectors).map(([job, selector]) => [CONFIG_FIELDS[job as keyof Selectors], selector]));

// What a kube-prometheus user sets: the exporter's Service in its namespace, the stack's own
// Alertmanager and Prometheus jobs.
const OVERRIDE: Selectors = {
  exporter: 'job="connect/cc-exporter", namespace="connect"',
  alertmanager: 'job="alertmanager-main", namespace="monitoring"',
  prometheus: 'job="prometheus-k8s", namespace="monitoring"',
};

describe(`the mixin's dashboards follow its _config${jsonnet.skip ? ` (skipped: ${jsonnet.skip})` : ''}`, () => {
  it.skipIf(jsonnet.skip !== undefined)("the dashboards' default selectors are _config's defaults, the jobs of prometheus.yml", () => {
    const config = jsonnetEval<Record<string, unknown>>('(import "prometheus/config.libsonnet")._config');
    expect(asConfig(DEFAULT_SELECTORS)).toEqual(Object.fromEntries(Object.values(CONFIG_FIELDS).map((f) => [f, config[f]])));
    const jobs = (parse(readFileSync(new URL('prometheus/prometheus.yml', root), 'utf8')) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((s) => s.job_name);
    for (const selector of Object.values(DEFAULT_SELECTORS)) expect(jobs.map((j) => `job="${j}"`)).toContain(selector);
  });

  it.skipIf(jsonnet.skip !== undefined)('with other selectors, every query carries them and no default is left anywhere', () => {
    const boards = mixinDashboards(asConfig(OVERRIDE));
    expect(Object.keys(boards).sort()).toEqual(Object.keys(DASHBOARDS).sort());
    const counts: Record<string, number> = {};
    for (const [file, board] of Object.entries(boards)) {
      const text = JSON.stringify(board);
      for (const selector of Object.values(DEFAULT_SELECTORS)) expect(text, `${file} still holds ${selector}`).not.toContain(JSON.stringify(selector).slice(1, -1));
      for (const t of targetsOf(file, board).filter((t) => t.kind === 'prometheus')) {
        expect(missingSelectors(t.query, OVERRIDE), `${file} / ${t.where}`).toEqual([]);
        for (const [job, selector] of Object.entries(OVERRIDE)) counts[job] = (counts[job] ?? 0) + t.query.split(selector).length - 1;
      }
    }
    // Every dashboard reads the exporter; System Health reads Alertmanager's own metrics too.
    expect(counts.exporter).toBeGreaterThan(60);
    expect(counts.alertmanager).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(jsonnet.skip !== undefined).each([
    ['a Kubernetes override', OVERRIDE],
    // A value that spells another default is replaced once, never again.
    ['selectors swapped', { exporter: DEFAULT_SELECTORS.alertmanager, alertmanager: DEFAULT_SELECTORS.exporter, prometheus: 'job=~"prom.*"' }],
  ] as const)('with %s, the mixin renders what the TypeScript writes for those selectors', (_name, selectors) => {
    const boards = mixinDashboards(asConfig(selectors));
    for (const [file, build] of Object.entries(DASHBOARDS)) expect(boards[file], file).toEqual(JSON.parse(render(build(selectors))));
  });
});

// The Prometheus rules and the Alertmanager configuration, checked by the real tools:
// promtool check rules / test rules, amtool check-config, and one amtool route test per case
// of alertmanager/tests/routes.txt. In CI a missing tool fails the run (findTool).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findTool } from '../exporter/test/support/tools.js';
import { repoPaths } from '../exporter/src/ops/stack/processes.js';

const promtool = findTool('promtool');
const amtool = findTool('amtool');

function run(tool: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(tool, args, { encoding: 'utf8', cwd: repoPaths.root });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const ruleFiles = readdirSync(repoPaths.rules).filter((f) => f.endsWith('.yml')).map((f) => `prometheus/rules/${f}`);
const ruleTests = readdirSync(repoPaths.ruleTests).filter((f) => f.endsWith('.yml')).map((f) => `prometheus/tests/${f}`);

describe(`Prometheus rules${promtool.skip ? ` (skipped: ${promtool.skip})` : ''}`, () => {
  it.skipIf(promtool.skip !== undefined)('pass promtool check rules', () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    const result = run(promtool.path!, ['check', 'rules', ...ruleFiles]);
    expect(result.output).not.toMatch(/FAILED/);
    expect(result.status, result.output).toBe(0);
  });

  it.skipIf(promtool.skip !== undefined)('pass promtool test rules', () => {
    expect(ruleTests.length).toBeGreaterThan(0);
    const result = run(promtool.path!, ['test', 'rules', ...ruleTests]);
    expect(result.status, result.output).toBe(0);
  });

  it.skipIf(promtool.skip !== undefined)('prometheus.yml passes promtool check config', () => {
    const result = run(promtool.path!, ['check', 'config', 'prometheus/prometheus.yml']);
    expect(result.status, result.output).toBe(0);
  });

  it('define the six alerts of the Phase 9 report with their severities, and test every alert', () => {
    const rules = ruleFiles.map((f) => readFileSync(`${repoPaths.root}/${f}`, 'utf8')).join('\n');
    const alerts = [...rules.matchAll(/- alert: (\w+)\n(?:.*\n)*?\s+severity: (\w+)/g)].map((m) => `${m[1]}/${m[2]}`);
    expect(alerts).toEqual(expect.arrayContaining([
      'HighErrorRate/critical', 'HighApiLatency/warning', 'StuckOrders/warning',
      'PaymentFailures/critical', 'LowDiskSpace/warning', 'DbConnectionPoolSaturated/critical',
    ]));
    const tests = ruleTests.map((f) => readFileSync(`${repoPaths.root}/${f}`, 'utf8')).join('\n');
    const runbooks = readFileSync(`${repoPaths.root}/docs/runbooks.md`, 'utf8');
    for (const name of new Set(alerts.map((a) => a.split('/')[0]!))) {
      expect(tests, `a promtool test of ${name}`).toMatch(new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
      expect(runbooks, `a runbook section for ${name}`).toMatch(new RegExp(`^## ${name}$`, 'm'));
      expect(rules, `the runbook link of ${name}`).toContain(`runbooks.md#${name.toLowerCase()}`);
    }
  });
});

const routeCases = readFileSync(`${repoPaths.root}/alertmanager/tests/routes.txt`, 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => {
    const [labels = '', receivers = ''] = line.split('=>').map((s) => s.trim());
    return { labels: labels.split(/\s+/), receivers };
  });

describe(`Alertmanager configuration${amtool.skip ? ` (skipped: ${amtool.skip})` : ''}`, () => {
  it.skipIf(amtool.skip !== undefined)('passes amtool check-config (templates included)', () => {
    const result = run(amtool.path!, ['check-config', 'alertmanager/alertmanager.yml']);
    expect(result.output).toMatch(/1 templates\n\s+SUCCESS/);
    expect(result.status, result.output).toBe(0);
  });

  it('has route cases for the six alerts', () => {
    const names = routeCases.map((c) => c.labels.find((l) => l.startsWith('alertname='))?.slice('alertname='.length));
    expect(names).toEqual(expect.arrayContaining(['PaymentFailures', 'HighErrorRate', 'HighApiLatency', 'StuckOrders', 'LowDiskSpace', 'DbConnectionPoolSaturated']));
  });

  for (const { labels, receivers } of routeCases) {
    it.skipIf(amtool.skip !== undefined)(`routes ${labels.join(' ')} to ${receivers}`, () => {
      const result = run(amtool.path!, ['config', 'routes', 'test', '--config.file=alertmanager/alertmanager.yml', `--verify.receivers=${receivers}`, ...labels]);
      expect(result.status, result.output).toBe(0);
      expect(result.output.split('\n')[0]).toBe(receivers);
    });
  }
});

// The paging path's worst case, from the shipped files: a row committed just after a scrape waits
// one scrape interval, its alert one evaluation interval, its notification the route's group_wait.
describe('paging latency bound of the shipped files', () => {
  const seconds = (d: string) => {
    const m = /^(\d+)(ms|s|m)$/.exec(d);
    if (!m) throw new Error(`not a duration: ${d}`);
    return Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1);
  };
  interface Route { receiver?: string; matchers?: string[]; group_wait?: string; routes?: Route[] }
  const prom = parse(readFileSync(`${repoPaths.root}/prometheus/prometheus.yml`, 'utf8')) as { global: Record<string, string>; scrape_configs: { job_name: string; scrape_interval?: string }[] };
  const am = parse(readFileSync(`${repoPaths.root}/alertmanager/alertmanager.yml`, 'utf8')) as { route: Route };
  const scrape = seconds(prom.scrape_configs.find((j) => j.job_name === 'cc-exporter')?.scrape_interval ?? prom.global.scrape_interval!);
  const evaluation = seconds(prom.global.evaluation_interval!);
  const groupWait = (alertname: string, severity: string) => {
    const route = am.route.routes!.find((r) => r.receiver !== 'alert-history' && r.matchers?.every((m) => m === `alertname="${alertname}"` || m === `severity="${severity}"`));
    return seconds(route?.group_wait ?? am.route.group_wait!);
  };

  it('is 15 s or less for a payment failure (SMS within 20 s of the row, with delivery)', () => {
    expect({ scrape, evaluation, groupWait: groupWait('PaymentFailures', 'critical') }).toEqual({ scrape: 5, evaluation: 5, groupWait: 5 });
  });

  it('has every critical route wait 10 s or less', () => {
    for (const route of am.route.routes!.filter((r) => r.matchers?.some((m) => m === 'severity="critical"') || ['PaymentFailures', 'HighErrorRate', 'DbConnectionPoolSaturated', 'AlertmanagerNotificationsFailing', 'DeploymentRollbackFailed', 'DeploymentRolledBack'].some((n) => r.matchers?.includes(`alertname="${n}"`)))) {
      expect(seconds(route.group_wait ?? am.route.group_wait!), JSON.stringify(route.matchers)).toBeLessThanOrEqual(10);
    }
  });
});

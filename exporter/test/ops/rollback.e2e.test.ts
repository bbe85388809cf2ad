// The deploy pipeline of .github/workflows/deploy-with-rollback.yml, step by step as the workflow
// runs it (cc-ops as a child process), against a real Postgres, a real Alertmanager running
// alertmanager/alertmanager.yml, and local fakes of Vercel, Grafana and the app. A failing smoke
// test leads to the rollback call with the right deployment id, the log rows, the annotation and
// an alert that Alertmanager routes to its receivers; a passing one to none of those; Vercel or
// Grafana unreachable to a clear error and a deployment log that still tells the truth.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startAlertmanager, writeAlertmanagerConfigCopy, type RunningProcess } from '../../src/ops/stack/processes.js';
import { Registry } from 'prom-client';
import { createDeploymentsCollector } from '../../src/collectors/deployments.js';
import { runOps, type CliResult } from '../support/cli.js';
import { samples } from '../support/metrics.js';
import { backends, connect, createTestDatabase, type TestDatabase } from '../support/databases.js';
import {
  HEALTHY_APP, startAppFake, startGrafanaFake, startVercelFake, unreachableUrl, type AppFake, type GrafanaFake, type VercelFake,
} from '../support/deploy-fakes.js';
import { secretFile, startSlackSink, type Sink, type SlackMessage } from '../support/sinks.js';
import { findTool } from '../support/tools.js';

const postgres = backends.find((b) => b.kind === 'postgres')!;
const alertmanagerTool = findTool('prometheus-alertmanager');
const skip = [postgres.skip, alertmanagerTool.skip].filter(Boolean).join(', ') || undefined;

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  receivers: { name: string }[];
  status: { state: string };
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

describe.skipIf(skip !== undefined)(`deploy with rollback, end to end (cc-ops, Postgres, Alertmanager)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let dir: string;
  let db: TestDatabase;
  let sql: pg.Client;
  let alertmanager: RunningProcess;
  let hooks: Sink<SlackMessage>;
  let slack: Sink<SlackMessage>;
  let grafana: GrafanaFake;
  let vercel: VercelFake;
  let app: AppFake;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cc-rollback-e2e-'));
    db = await createTestDatabase('postgres');
    sql = await connect(db);
    [hooks, slack, grafana, vercel, app] = await Promise.all([startSlackSink(), startSlackSink(), startGrafanaFake(), startVercelFake(), startAppFake()]);
    // Alertmanager with the project's routes and receivers; its webhooks (the exporter's
    // alert-history and SMS bridge) and Slack point at recording sinks, e-mail at a closed port.
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    secretFile(secrets, 'smtp-password', 'unused');
    secretFile(secrets, 'slack-webhook-url', slack.url);
    secretFile(secrets, 'hooks-token', 'e2e-hooks-token');
    const configFile = writeAlertmanagerConfigCopy(join(dir, 'alertmanager'), {
      exporterUrl: hooks.url.replace(/\/services\/.*$/, ''),
      smarthost: new URL(await unreachableUrl()).host,
      secretsDir: secrets,
      timing: { groupWait: '0s', groupInterval: '1s' },
    });
    alertmanager = await startAlertmanager(alertmanagerTool.path!, { configFile, dataDir: join(dir, 'am-data'), port: await freePort() });
    env = {
      DATABASE_URL: db.connectionString,
      GRAFANA_URL: grafana.url,
      GRAFANA_TOKEN_FILE: secretFile(secrets, 'grafana-token', grafana.token),
      VERCEL_API_URL: vercel.url,
      VERCEL_TOKEN: vercel.token,
      VERCEL_PROJECT_ID: vercel.projectId,
      VERCEL_TEAM_ID: 'team_fake',
      ALERTMANAGER_URL: alertmanager.url,
      OPS_HTTP_TIMEOUT_MS: '3000',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'camerons-connect/connect-web',
      GITHUB_RUN_ID: '4242',
    };
  });

  afterAll(async () => {
    await sql?.end();
    await Promise.all([alertmanager?.stop(), hooks?.close(), slack?.close(), grafana?.close(), vercel?.close(), app?.close()]);
    await db?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const secretsIn = (r: CliResult) => [grafana.token, vercel.token, db.connectionString.replace(/^.*:([^:@]+)@.*$/, '$1')].filter((s) => r.output.includes(s));

  async function rows(environment: string) {
    const { rows } = await sql.query(
      `SELECT id::int, deployment_id, version, status, smoke_test_passed, rollback_target_id::int, smoke_test_results, metadata
         FROM deployment_log WHERE environment = $1 ORDER BY id`, [environment]);
    return rows as { id: number; deployment_id: string; version: string; status: string; smoke_test_passed: boolean | null; rollback_target_id: number | null; smoke_test_results: { passed: boolean; checks: { name: string; passed: boolean }[] } | null; metadata: Record<string, unknown> & { rollback?: Record<string, unknown>; grafana_annotation_id?: number } }[];
  }

  async function alertsOf(alertname: string, environment: string): Promise<AmAlert[]> {
    const query = new URLSearchParams([['filter', `alertname="${alertname}"`], ['filter', `environment="${environment}"`]]);
    const res = await fetch(`${alertmanager.url}/api/v2/alerts?${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as AmAlert[];
  }

  /** deploy start, smoke, deploy finish: the workflow's steps up to the verdict. */
  async function deployAndSmoke(environment: string, deploymentId: string, version: string, commit: string) {
    const start = await runOps(['deploy', 'start', '--environment', environment, '--deployment-id', deploymentId, '--version', version, '--commit', commit, '--url', app.url], env);
    expect(start.code, start.output).toBe(0);
    const report = join(dir, `smoke-${deploymentId}.json`);
    const smoke = await runOps(['smoke', '--url', app.url, '--attempts', '3', '--initial-delay', '100ms', '--time-limit', '20s', '--report', report], env);
    const finish = await runOps(['deploy', 'finish', '--deployment-id', deploymentId, '--status', smoke.code === 0 ? 'success' : 'failed', '--smoke-report', report], env);
    expect(finish.code, finish.output).toBe(0);
    return { start, smoke, finish, report: JSON.parse(readFileSync(report, 'utf8')) as { passed: boolean } };
  }

  function setHealth(status: number) {
    app.routes.set('/api/health', { ...HEALTHY_APP['/api/health']!, status, body: status === 200 ? '{"status":"ok"}' : '{"status":"error"}' });
  }

  it('a failing smoke test rolls production back to the last good deployment: Vercel, deployment_log, Grafana, and a routed alert', async () => {
    setHealth(200);
    const good = await deployAndSmoke('production', 'dpl_good_100', '1.0.0', 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    expect(good.smoke.code).toBe(0);
    setHealth(503);
    const bad = await deployAndSmoke('production', 'dpl_bad_110', '1.1.0', 'ffeeddccbbaa00998877665544332211ffeeddcc');
    expect(bad.smoke.code, bad.smoke.output).toBe(1);
    expect(bad.smoke.stdout).toMatch(/API health\s+FAIL\s+503\s+3\s/);
    expect(bad.smoke.stdout).toMatch(/main page\s+PASS\s+200\s+1\s/);
    expect(bad.smoke.stdout).toContain('1 of 3 checks FAILED');
    expect(vercel.requests).toHaveLength(0); // nothing rolls back before the rollback step

    const rollback = await runOps(['rollback', '--environment', 'production', '--deployment-id', 'dpl_bad_110'], env);
    expect(rollback.code, rollback.output).toBe(0);
    expect(rollback.stdout).toContain('production serves 1.0.0 (a1b2c3d) again');

    // Vercel: one Instant Rollback of the project, to the good deployment, with the reason.
    expect(vercel.rollbacks).toEqual([{ deploymentId: 'dpl_good_100', description: 'smoke tests failed (dpl_bad_110)', teamId: 'team_fake' }]);
    expect(vercel.requests[0]!.authorization).toBe(`Bearer ${vercel.token}`);

    // deployment_log: the good one stays success, the bad one is rolled back to it.
    const log = await rows('production');
    expect(log.map((r) => [r.deployment_id, r.status, r.smoke_test_passed])).toEqual([
      ['dpl_good_100', 'success', true],
      ['dpl_bad_110', 'rolled_back', false],
    ]);
    expect(log[1]!.rollback_target_id).toBe(log[0]!.id);
    expect(log[1]!.smoke_test_results!.checks.map((c) => [c.name, c.passed])).toEqual([['main page', true], ['menu page', true], ['API health', false]]);
    expect(log[1]!.metadata.rollback).toMatchObject({ status: 'done', target: 'dpl_good_100', reason: 'smoke tests failed', run_url: 'https://github.com/camerons-connect/connect-web/actions/runs/4242' });
    const events = await sql.query(`SELECT event_data FROM runtime_metrics WHERE event_type = 'deployment' AND event_data->>'action' = 'rollback'`);
    expect(events.rows.map((r) => r.event_data)).toEqual([expect.objectContaining({ deployment_id: 'dpl_bad_110', target_deployment_id: 'dpl_good_100', environment: 'production' })]);

    // Grafana: each deploy's region (closed), and the rollback.
    const annotations = [...grafana.annotations.values()];
    const badRegion = grafana.annotations.get(log[1]!.metadata.grafana_annotation_id!)!;
    expect(badRegion.tags).toEqual(['deploy', 'environment:production', 'env:production', 'version:1.1.0', 'commit:ffeeddccbbaa', 'status:failed']);
    expect(badRegion.timeEnd).toBeGreaterThanOrEqual(badRegion.time);
    const rollbackNote = annotations.filter((a) => a.tags.includes('rollback'));
    expect(rollbackNote).toHaveLength(1);
    expect(rollbackNote[0]!.tags).toEqual(['deploy', 'rollback', 'environment:production', 'env:production', 'version:1.1.0']);
    expect(rollbackNote[0]!.text).toBe('Rolled back production from 1.1.0 (ffeeddc) [dpl_bad_110] to 1.0.0 (a1b2c3d) [dpl_good_100]: smoke tests failed');

    // Alertmanager: the critical alert, with the rule's labels, routed to the history and to email and Slack.
    const [alert, ...more] = await alertsOf('DeploymentRolledBack', 'production');
    expect(more).toHaveLength(0);
    expect(alert!.labels).toEqual({ alertname: 'DeploymentRolledBack', severity: 'critical', environment: 'production' });
    expect(alert!.status.state).toBe('active');
    expect(alert!.annotations).toMatchObject({
      summary: 'A deployment was rolled back.',
      runbook_url: 'https://github.com/camerons-connect/connect-observability/blob/main/docs/runbooks.md#deploymentrolledback',
    });
    expect(alert!.annotations.description).toContain('from 1.1.0 (ffeeddc) [dpl_bad_110] to 1.0.0 (a1b2c3d) [dpl_good_100]');
    expect(alert!.generatorURL).toBe('https://github.com/camerons-connect/connect-web/actions/runs/4242');
    const minutes = (Date.parse(alert!.endsAt) - Date.parse(alert!.startsAt)) / 60_000;
    expect(minutes).toBeCloseTo(15, 0);
    expect(alert!.receivers.map((r) => r.name).sort()).toEqual(['alert-history', 'email-slack']);
    const history = await hooks.waitFor((m) => m.path === '/hooks/alert-history' && JSON.stringify(m.body).includes('DeploymentRolledBack'), 15_000, 'the alert-history webhook');
    expect(history.value.body).toMatchObject({ status: 'firing', commonLabels: { alertname: 'DeploymentRolledBack', environment: 'production' } });
    const message = await slack.waitFor((m) => m.text.includes('DeploymentRolledBack'), 15_000, 'the Slack notification');
    expect(message.value.text).toContain('[FIRING] DeploymentRolledBack (critical): A deployment was rolled back.');
    expect(hooks.received.some((m) => m.value.path === '/hooks/sms')).toBe(false);

    // A retried step changes nothing.
    const again = await runOps(['rollback', '--environment', 'production', '--deployment-id', 'dpl_bad_110'], env);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain('was rolled back already');
    expect(vercel.rollbacks).toHaveLength(1);

    for (const r of [good.start, good.smoke, good.finish, bad.start, bad.smoke, bad.finish, rollback]) expect(secretsIn(r)).toEqual([]);
  });

  it('a passing smoke test leads to no rollback, no alert and no rollback annotation', async () => {
    setHealth(200);
    const before = { vercel: vercel.requests.length, annotations: grafana.annotations.size };
    const first = await deployAndSmoke('staging', 'dpl_stg_1', '2.0.0', '0123456789abcdef0123456789abcdef01234567');
    const second = await deployAndSmoke('staging', 'dpl_stg_2', '2.0.1', '1123456789abcdef0123456789abcdef01234567');
    expect([first.smoke.code, second.smoke.code]).toEqual([0, 0]);
    expect(second.smoke.stdout).toContain('all 3 checks passed');
    expect(vercel.requests.length).toBe(before.vercel);
    const log = await rows('staging');
    expect(log.map((r) => [r.deployment_id, r.status, r.smoke_test_passed, r.rollback_target_id])).toEqual([
      ['dpl_stg_1', 'success', true, null],
      ['dpl_stg_2', 'success', true, null],
    ]);
    // Two annotations, both deploy regions closed with status:success; none tagged rollback.
    const added = [...grafana.annotations.values()].slice(before.annotations);
    expect(added.map((a) => a.tags.filter((t) => t === 'rollback' || t.startsWith('status:')))).toEqual([['status:success'], ['status:success']]);
    expect(added.every((a) => a.timeEnd !== undefined)).toBe(true);
    expect(await alertsOf('DeploymentRolledBack', 'staging')).toEqual([]);
    expect(await alertsOf('DeploymentRollbackFailed', 'staging')).toEqual([]);
  });

  it('--dry-run says what it would do and changes nothing', async () => {
    setHealth(503);
    await deployAndSmoke('preview', 'dpl_prv_good', '3.0.0', 'aaaa56789abcdef0123456789abcdef012345678');
    // recorded by hand as good: passed and served (a failed smoke test cannot be recorded as success)
    await sql.query(`UPDATE deployment_log SET status = 'success', smoke_test_passed = true WHERE deployment_id = 'dpl_prv_good'`);
    await deployAndSmoke('preview', 'dpl_prv_bad', '3.1.0', 'bbbb56789abcdef0123456789abcdef012345678');
    const before = { rows: await rows('preview'), vercel: vercel.requests.length, grafana: grafana.requests.length, events: (await sql.query('SELECT count(*)::int AS n FROM runtime_metrics')).rows[0].n };
    const dry = await runOps(['rollback', '--environment', 'preview', '--dry-run'], env);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toContain('preview would go from 3.1.0 (bbbb567) [dpl_prv_bad] back to 3.0.0 (aaaa567) [dpl_prv_good]');
    expect(dry.stdout).toContain(`would call Vercel: POST ${vercel.url}/v1/projects/${vercel.projectId}/rollback/dpl_prv_good?teamId=team_fake`);
    expect(dry.stdout).toContain('nothing was changed');
    expect(await rows('preview')).toEqual(before.rows);
    expect((await sql.query('SELECT count(*)::int AS n FROM runtime_metrics')).rows[0].n).toBe(before.events);
    expect(vercel.requests.length).toBe(before.vercel);
    expect(grafana.requests.length).toBe(before.grafana);
    expect(await alertsOf('DeploymentRolledBack', 'preview')).toEqual([]);
  });

  it('Vercel refusing: exit 1, the row says the rollback failed, and DeploymentRollbackFailed reaches SMS too', async () => {
    setHealth(200);
    await deployAndSmoke('eu', 'dpl_eu_good', '4.0.0', 'cccc56789abcdef0123456789abcdef012345678');
    setHealth(503);
    await deployAndSmoke('eu', 'dpl_eu_bad', '4.1.0', 'dddd56789abcdef0123456789abcdef012345678');
    vercel.failWith = { status: 500, code: 'internal_server_error', message: 'An unexpected internal error occurred' };
    try {
      const result = await runOps(['rollback', '--environment', 'eu', '--deployment-id', 'dpl_eu_bad'], env);
      expect(result.code, result.output).toBe(1);
      expect(result.stderr).toContain(`rollback: FAILED: Vercel: roll back to dpl_eu_good failed: POST ${vercel.url}/v1/projects/${vercel.projectId}/rollback/dpl_eu_good answered 500: An unexpected internal error occurred; eu still serves 4.1.0 (dddd567) [dpl_eu_bad]`);
      expect(secretsIn(result)).toEqual([]);
    } finally {
      vercel.failWith = undefined;
    }
    const log = await rows('eu');
    expect(log.map((r) => [r.deployment_id, r.status, r.rollback_target_id])).toEqual([['dpl_eu_good', 'success', null], ['dpl_eu_bad', 'failed', null]]);
    expect(log[1]!.metadata.rollback).toMatchObject({ status: 'failed', target: 'dpl_eu_good', error: expect.stringContaining('answered 500') });
    const [alert] = await alertsOf('DeploymentRollbackFailed', 'eu');
    expect(alert!.labels).toEqual({ alertname: 'DeploymentRollbackFailed', severity: 'critical', environment: 'eu' });
    expect(alert!.receivers.map((r) => r.name).sort()).toEqual(['alert-history', 'email-slack-sms']);
    await hooks.waitFor((m) => m.path === '/hooks/sms' && JSON.stringify(m.body).includes('DeploymentRollbackFailed'), 15_000, 'the SMS bridge webhook');
    expect(await alertsOf('DeploymentRolledBack', 'eu')).toEqual([]);
    expect([...grafana.annotations.values()].some((a) => a.tags.includes('status:rollback_failed') && a.text.startsWith('Rollback of eu FAILED'))).toBe(true);

    // Once Vercel answers again, the same command finishes the job.
    const retry = await runOps(['rollback', '--environment', 'eu', '--deployment-id', 'dpl_eu_bad'], env);
    expect(retry.code, retry.output).toBe(0);
    expect((await rows('eu'))[1]).toMatchObject({ status: 'rolled_back', rollback_target_id: log[0]!.id });
  });

  it('Vercel unreachable: exit 1 with the reason (refused, no timeout waited for); the row is failed, not rolled back', async () => {
    setHealth(200);
    await deployAndSmoke('us', 'dpl_us_good', '5.0.0', 'eeee56789abcdef0123456789abcdef012345678');
    setHealth(503);
    await deployAndSmoke('us', 'dpl_us_bad', '5.1.0', 'ffff56789abcdef0123456789abcdef012345678');
    const result = await runOps(['rollback', '--environment', 'us'], { ...env, VERCEL_API_URL: await unreachableUrl() });
    expect(result.code, result.output).toBe(1);
    // The refusal is the reason given, not a timeout ("no answer within" OPS_HTTP_TIMEOUT_MS); a
    // command that hung instead would be killed by runOps (60 s) and fail here.
    expect(result.stderr).toMatch(/rollback: FAILED: Vercel: roll back to dpl_us_good failed: POST http:\/\/127\.0\.0\.1:\d+\/v1\/projects\/prj_fake\w+\/rollback\/dpl_us_good: connection refused; us still serves 5\.1\.0/);
    const log = await rows('us');
    expect(log.map((r) => [r.deployment_id, r.status])).toEqual([['dpl_us_good', 'success'], ['dpl_us_bad', 'failed']]);
    expect(log[1]!.metadata.rollback).toMatchObject({ status: 'failed', error: expect.stringContaining('connection refused') });
    expect(await alertsOf('DeploymentRollbackFailed', 'us')).toHaveLength(1);
  });

  it('Grafana unreachable: the deploy is recorded and rolled back all the same, with warnings and exit 3', async () => {
    const offline = { ...env, GRAFANA_URL: await unreachableUrl() };
    setHealth(200);
    const start = await runOps(['deploy', 'start', '--environment', 'apac', '--deployment-id', 'dpl_apac_good', '--version', '6.0.0'], offline);
    expect(start.code, start.output).toBe(3);
    expect(start.stderr).toMatch(/deploy start: warning: Grafana: create annotation failed: POST http:\/\/127\.0\.0\.1:\d+\/api\/annotations: connection refused; the deployment is recorded/);
    expect((await rows('apac'))[0]).toMatchObject({ deployment_id: 'dpl_apac_good', status: 'deploying' });
    // Grafana back for finish: the missing annotation is made whole, as a region.
    const passed = join(dir, 'smoke-apac-good.json');
    expect((await runOps(['smoke', '--url', app.url, '--report', passed], env)).code).toBe(0);
    const finish = await runOps(['deploy', 'finish', '--deployment-id', 'dpl_apac_good', '--status', 'success', '--smoke-report', passed], env);
    expect(finish.code, finish.output).toBe(0);
    const region = grafana.annotations.get((await rows('apac'))[0]!.metadata.grafana_annotation_id!)!;
    expect(region.tags).toContain('status:success');
    expect(region.timeEnd).toBeDefined();

    expect((await runOps(['deploy', 'start', '--environment', 'apac', '--deployment-id', 'dpl_apac_bad', '--version', '6.1.0'], offline)).code).toBe(3);
    const grafanaFails = await runOps(['deploy', 'finish', '--deployment-id', 'dpl_apac_bad', '--status', 'failed'], { ...env, GRAFANA_TOKEN_FILE: undefined, GRAFANA_TOKEN: 'wrong-token' });
    expect(grafanaFails.code, grafanaFails.output).toBe(3);
    expect(grafanaFails.stderr).toContain('answered 401: Unauthorized; the outcome is recorded in deployment_log');
    expect(grafanaFails.output).not.toContain('wrong-token');
    const rollback = await runOps(['rollback', '--environment', 'apac'], offline);
    expect(rollback.code, rollback.output).toBe(3);
    expect(rollback.stderr).toContain('rollback: warning: rolled back, but Grafana was not annotated');
    expect(vercel.rollbacks.at(-1)!.deploymentId).toBe('dpl_apac_good');
    expect((await rows('apac')).map((r) => r.status)).toEqual(['success', 'rolled_back']);
    expect(await alertsOf('DeploymentRolledBack', 'apac')).toHaveLength(1);
  });

  it('nothing to roll back to: exit 1, the row says why, and the failure is alerted', async () => {
    const start = await runOps(['deploy', 'start', '--environment', 'fresh', '--deployment-id', 'dpl_fresh_1', '--version', '0.1.0'], env);
    expect(start.code).toBe(0);
    const result = await runOps(['rollback', '--environment', 'fresh'], env);
    expect(result.code, result.output).toBe(1);
    expect(result.stderr).toContain('no successful deployment of fresh before dpl_fresh_1 to roll back to');
    expect((await rows('fresh'))[0]).toMatchObject({ status: 'failed', metadata: expect.objectContaining({ rollback: expect.objectContaining({ status: 'failed', target: null }) }) });
    expect(await alertsOf('DeploymentRollbackFailed', 'fresh')).toHaveLength(1);
  });

  it('a regression found by the metric analysis rolls back with its evidence in the alert, the Grafana note and the log', async () => {
    setHealth(200);
    const before = await deployAndSmoke('analysis-e2e', 'dpl_v1_200', '2.0.0', '1111111111111111111111111111111111111111');
    const after = await deployAndSmoke('analysis-e2e', 'dpl_v2_210', '2.1.0', '2222222222222222222222222222222222222222');
    expect([before.smoke.code, after.smoke.code]).toEqual([0, 0]);
    // What cc-ops analyze --report wrote for 2.1.0 (its own e2e runs it against the real Prometheus).
    const report = {
      verdict: 'regression', summary: 'regression of 2.1.0 against 2.0.0: API error ratio 25.0% vs 2.5% (at most +2.0 points)',
      environment: 'analysis-e2e', release: '2.1.0', baseline: '2.0.0', windowSeconds: 600, candidateAt: '2026-12-03T10:10:00.000Z', baselineAt: '2026-12-03T10:00:00.000Z',
      requests: { candidate: 400, baseline: 380 },
      checks: [
        { name: 'API error ratio', candidate: 0.25, baseline: 0.025, threshold: 'at most +2.0 points', result: 'fail', detail: '25.0% vs 2.5%', queries: { candidate: 'sum(errors{release="2.1.0"}) / sum(all{release="2.1.0"})', baseline: 'sum(errors{release="2.0.0"}) / sum(all{release="2.0.0"})' } },
        { name: 'API p95 latency', candidate: 0.3, baseline: 0.28, threshold: 'at most x1.5 (or +0.1 s)', result: 'pass', detail: '0.300 s vs 0.280 s', queries: { candidate: 'p95{2.1.0}', baseline: 'p95{2.0.0}' } },
      ],
    };
    const file = join(dir, 'analysis.json');
    writeFileSync(file, JSON.stringify(report));
    const rollback = await runOps(['rollback', '--environment', 'analysis-e2e', '--deployment-id', 'dpl_v2_210', '--evidence', file], env);
    expect(rollback.code, rollback.output).toBe(0);
    expect(vercel.rollbacks.at(-1)).toMatchObject({ deploymentId: 'dpl_v1_200', description: `metric analysis: ${report.summary} (dpl_v2_210)` });
    const evidence = 'API error ratio: 25.0% vs 2.5% (at most +2.0 points); 2.1.0: sum(errors{release="2.1.0"}) / sum(all{release="2.1.0"}) at 2026-12-03T10:10:00.000Z; 2.0.0: sum(errors{release="2.0.0"}) / sum(all{release="2.0.0"}) at 2026-12-03T10:00:00.000Z';
    const [alert] = await alertsOf('DeploymentRolledBack', 'analysis-e2e');
    expect(alert!.annotations.evidence).toBe(evidence);
    expect(alert!.annotations.description).toContain(`metric analysis: ${report.summary}`);
    const note = [...grafana.annotations.values()].find((a) => a.tags.includes('rollback') && a.tags.includes('env:analysis-e2e'))!;
    expect(note.text).toContain(`\n${evidence}`);
    const log = await rows('analysis-e2e');
    expect(log.map((r) => [r.deployment_id, r.status])).toEqual([['dpl_v1_200', 'success'], ['dpl_v2_210', 'rolled_back']]);
    expect(log[1]!.metadata.rollback).toMatchObject({ status: 'done', target: 'dpl_v1_200', evidence });
    // What serves now is the deployment it went back to.
    const registry = new Registry();
    await createDeploymentsCollector(registry).collect(sql);
    expect(Object.keys(await samples(registry, 'cc_deployment_serving_info')).filter((k) => k.startsWith('environment=analysis-e2e'))).toEqual([
      'environment=analysis-e2e,version=2.0.0,commit_sha=1111111111111111111111111111111111111111,deployment_id=dpl_v1_200',
    ]);
  });
});

// .github/workflows/deploy-with-rollback.yml run the way GitHub runs it (test/workflow-runner.ts:
// each step in its effective shell, ${{ }} substituted, if: on step outcomes, $GITHUB_OUTPUT),
// with the real cc-ops of this checkout against a real Postgres, and fakes of what is Vercel's:
// its CLI (deploy, promote), its API (the deployment id, Instant Rollback) and the app it serves,
// a candidate at its own URL and production at the app's URL.
//
// What differs from GitHub: "Build the ops CLI" and "Install the Vercel CLI" are skipped (this
// checkout's build and the fake CLI are used), actions/checkout links directories, and the job
// runs on this machine.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPaths } from '../src/ops/stack/processes.js';
import { alertingStackSkip, startAlertingStack, type AlertingStack } from './support/alerting-stack.js';
import { backends, connect, createTestDatabase, type TestDatabase } from './support/databases.js';
import { HEALTHY_APP, startAppFake, startGrafanaFake, type AppFake, type AppRoute, type GrafanaFake } from './support/deploy-fakes.js';
import { runWorkflowJob, type JobRun } from './support/workflow-runner.js';

const postgres = backends.find((b) => b.kind === 'postgres')!;
const WORKFLOW = join(repoPaths.root, '.github/workflows/deploy-with-rollback.yml');
const TOKEN = 'vercel_fake_token';
const PROJECT = 'prj_fake';
const OPS_REF = 'c0ffee'.padEnd(40, '0');

const BROKEN_HEALTH: Record<string, AppRoute> = { ...HEALTHY_APP, '/api/health': { status: 503, contentType: 'application/json', body: '{"status":"error"}' } };

/** Vercel as the workflow sees it: deployments, each served at its own URL, and the production alias. */
interface VercelWorld {
  url: string;
  production: AppFake;
  /** what the next `vercel deploy` serves at its own URL, and what it serves once promoted */
  next: { version: string; candidate: Record<string, AppRoute>; promoted?: Record<string, AppRoute> };
  deployments: Map<string, { id: string; version: string; app: AppFake; promoted: Record<string, AppRoute> }>;
  calls: string[];
  /** called when a deployment is promoted (users start using it) */
  onPromote?: (version: string) => void;
  close(): Promise<void>;
}

async function startVercelWorld(): Promise<VercelWorld> {
  const production = await startAppFake(HEALTHY_APP);
  const world = { production, deployments: new Map(), calls: [] as string[], next: { version: '0.0.0', candidate: HEALTHY_APP } } as unknown as VercelWorld;
  const serve = (routes: Record<string, AppRoute>) => {
    production.routes.clear();
    for (const [path, route] of Object.entries(routes)) production.routes.set(path, { ...route });
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://fake');
        const send = (status: number, data: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
        // The fake CLI's calls.
        if (url.pathname === '/cli/deploy') {
          const app = await startAppFake(world.next.candidate);
          const id = `dpl_${world.next.version.replace(/\W/g, '')}_${world.deployments.size}`;
          world.deployments.set(new URL(app.url).host, { id, version: world.next.version, app, promoted: world.next.promoted ?? world.next.candidate });
          world.calls.push(`deploy ${id}`);
          return send(200, { url: app.url });
        }
        if (url.pathname === '/cli/promote') {
          const d = world.deployments.get(new URL(JSON.parse(body).url as string).host);
          if (!d) return send(404, { error: 'no such deployment' });
          world.calls.push(`promote ${d.id}`);
          serve(d.promoted);
          world.onPromote?.(d.version);
          return send(200, {});
        }
        // The REST API.
        if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(403, { error: { code: 'forbidden' } });
        const lookup = /^\/v13\/deployments\/(.+)$/.exec(url.pathname);
        if (req.method === 'GET' && lookup) {
          const d = world.deployments.get(decodeURIComponent(lookup[1]!));
          return d ? send(200, { id: d.id, url: lookup[1] }) : send(404, { error: { code: 'not_found' } });
        }
        const rollback = /^\/v1\/projects\/([^/]+)\/rollback\/([^/]+)$/.exec(url.pathname);
        if (req.method === 'POST' && rollback && rollback[1] === PROJECT) {
          const d = [...world.deployments.values()].find((x) => x.id === rollback[2]);
          if (!d) return send(404, { error: { code: 'not_found' } });
          world.calls.push(`rollback to ${d.id}`);
          serve(d.promoted);
          return send(201, {});
        }
        return send(404, { error: { code: 'not_found' } });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  world.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  world.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([production.close(), ...[...world.deployments.values()].map((d) => d.app.close())]);
  };
  return world;
}

/** A `vercel` CLI that asks the world: deploy prints the candidate's URL, promote switches production. */
function writeFakeVercelCli(bin: string): void {
  const script = `#!/usr/bin/env node
const [cmd, ...args] = process.argv.slice(2);
const control = process.env.FAKE_VERCEL_CONTROL;
if (!process.argv.some((a) => a === '--token=${TOKEN}')) { console.error('Error: no valid token'); process.exit(1); }
async function main() {
  if (cmd === 'pull' || cmd === 'build') return console.error('vercel ' + cmd + ': done (fake)');
  if (cmd === 'deploy') {
    const res = await fetch(control + '/cli/deploy', { method: 'POST' });
    const { url } = await res.json();
    console.error('Deploying (fake)…');
    return console.log(url);
  }
  if (cmd === 'promote') {
    const res = await fetch(control + '/cli/promote', { method: 'POST', body: JSON.stringify({ url: args[0] }) });
    if (!res.ok) { console.error('Error: promote failed'); process.exit(1); }
    return console.error('Promoted ' + args[0] + ' (fake)');
  }
  console.error('fake vercel: unknown command ' + cmd); process.exit(1);
}
main().catch((e) => { console.error(e.message); process.exit(1); });
`;
  writeFileSync(join(bin, 'vercel'), script);
  chmodSync(join(bin, 'vercel'), 0o755);
}

interface DeployOptions {
  promoted?: Record<string, AppRoute>;
  opsRef?: string;
  analysisWindow?: string;
  secrets?: Record<string, string>;
}

/** One run of the workflow's deploy job, deploying `version` into the world. */
function runDeploy(world: VercelWorld, dir: string, databaseUrl: string, version: string, candidate: Record<string, AppRoute>, options: DeployOptions): Promise<JobRun> {
  world.next = { version, candidate, promoted: options.promoted };
  world.calls.length = 0;
  const app = mkdtempSync(join(dir, 'app-'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'connect-web', version }));
  return runWorkflowJob({
    file: WORKFLOW,
    job: 'deploy',
    inputs: {
      environment: 'production', 'app-url': world.production.url, 'ops-ref': options.opsRef ?? OPS_REF,
      'smoke-args': '--attempts 2 --initial-delay 100ms --time-limit 20s', 'analysis-window': options.analysisWindow ?? '10m',
    },
    secrets: { VERCEL_TOKEN: TOKEN, VERCEL_ORG_ID: 'team_fake', VERCEL_PROJECT_ID: PROJECT, OPS_DATABASE_URL: databaseUrl, ...options.secrets },
    vars: { VERCEL_API_URL: world.url },
    github: { sha: version.replace(/\D/g, '').padEnd(40, 'a'), repository: 'camerons-connect/connect-web' },
    checkouts: { app, ops: repoPaths.root },
    replace: { 'Build the ops CLI': null, 'Install the Vercel CLI': null },
    env: { PATH: `${dir}:${process.env.PATH}`, HOME: process.env.HOME ?? dir, FAKE_VERCEL_CONTROL: world.url },
  });
}

describe.skipIf(postgres.skip !== undefined)(`the deploy workflow, run as GitHub runs it${postgres.skip ? ` (skipped: ${postgres.skip})` : ''}`, () => {
  let dir: string;
  let db: TestDatabase;
  let sql: pg.Client;
  let world: VercelWorld;
  let grafana: GrafanaFake;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cc-workflow-e2e-'));
    db = await createTestDatabase('postgres');
    sql = await connect(db);
    world = await startVercelWorld();
    grafana = await startGrafanaFake();
    writeFakeVercelCli(dir);
  });
  afterAll(async () => {
    await sql?.end();
    await world?.close();
    await grafana?.close();
    await db?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const deploy = (version: string, candidate: Record<string, AppRoute>, options: DeployOptions = {}) =>
    runDeploy(world, dir, db.connectionString, version, candidate, { ...options, secrets: { GRAFANA_URL: grafana.url, GRAFANA_TOKEN: grafana.token } });
  const notes = () => [...grafana.annotations.values()];

  const log = async () =>
    (await sql.query(`SELECT deployment_id, version, status, smoke_test_passed FROM deployment_log WHERE environment = 'production' ORDER BY id`)).rows as
      { deployment_id: string; version: string; status: string; smoke_test_passed: boolean | null }[];
  const productionHealth = async () => (await fetch(`${world.production.url}/api/health`)).status;
  const outcomes = (run: JobRun) => Object.fromEntries(run.steps.map((s) => [s.name, s.outcome]));

  it('a healthy candidate is smoke-tested at its own URL, promoted, smoke-tested again and recorded as success; nothing rolls back', async () => {
    const run = await deploy('1.0.0', HEALTHY_APP);
    expect(run.result, run.log()).toBe('success');
    expect(world.calls).toEqual(['deploy dpl_100_0', 'promote dpl_100_0']);
    expect(outcomes(run)).toMatchObject({
      'Smoke-test the candidate': 'success', 'Promote the candidate': 'success', 'Smoke-test production': 'success',
      'cc-ops analyze': 'success', 'cc-ops deploy finish': 'success', 'cc-ops rollback': 'skipped', 'Fail the run unless the deploy was verified': 'skipped',
    });
    expect(run.step('cc-ops analyze').output).toContain('no metric analysis (PROMETHEUS_URL is not set');
    expect(run.step('Smoke-test the candidate').shell).toBe('bash --noprofile --norc -eo pipefail {0}');
    expect(await log()).toEqual([{ deployment_id: 'dpl_100_0', version: '1.0.0', status: 'success', smoke_test_passed: true }]);
    expect(run.summary).toContain('### Smoke tests of production');
    // Grafana: the deploy's region, closed, tagged with its environment.
    expect(notes()).toEqual([expect.objectContaining({ tags: ['deploy', 'environment:production', 'env:production', 'version:1.0.0', `commit:${'100'.padEnd(12, 'a')}`, 'status:success'] })]);
    expect(notes()[0]!.timeEnd).toBeGreaterThanOrEqual(notes()[0]!.time);
  });

  it('a broken candidate fails its smoke test at its own URL: never promoted, recorded as failed, the run fails, users never saw it', async () => {
    const run = await deploy('1.1.0', BROKEN_HEALTH);
    expect(run.result, run.log()).toBe('failure');
    expect(world.calls).toEqual(['deploy dpl_110_1']);
    expect(outcomes(run)).toMatchObject({
      'Smoke-test the candidate': 'failure', 'Promote the candidate': 'skipped', 'Smoke-test production': 'skipped',
      'cc-ops deploy finish': 'success', 'cc-ops rollback': 'skipped', 'Fail the run unless the deploy was verified': 'failure',
    });
    // The smoke command failed inside `cc-ops smoke … | tee`: pipefail made the step fail.
    expect(run.step('Smoke-test the candidate').output).toMatch(/API health\s+FAIL\s+503/);
    expect(await productionHealth()).toBe(200);
    expect((await log()).at(-1)).toEqual({ deployment_id: 'dpl_110_1', version: '1.1.0', status: 'failed', smoke_test_passed: false });
  });

  it('a candidate that breaks once promoted is rolled back to the last deployment that passed and served; the run fails', async () => {
    const run = await deploy('1.2.0', HEALTHY_APP, { promoted: BROKEN_HEALTH });
    expect(run.result, run.log()).toBe('failure');
    // Back to 1.0.0: 1.1.0 failed before promotion and never served.
    expect(world.calls).toEqual(['deploy dpl_120_2', 'promote dpl_120_2', 'rollback to dpl_100_0']);
    expect(outcomes(run)).toMatchObject({
      'Smoke-test the candidate': 'success', 'Promote the candidate': 'success', 'Smoke-test production': 'failure',
      'cc-ops analyze': 'skipped', 'cc-ops deploy finish': 'success', 'cc-ops rollback': 'success', 'Fail the run unless the deploy was verified': 'failure',
    });
    expect(run.step('cc-ops rollback').output).toContain('production serves 1.0.0');
    expect(await productionHealth()).toBe(200);
    expect(notes().filter((n) => n.tags.includes('rollback')).map((n) => n.text)).toEqual([
      `Rolled back production from 1.2.0 (120aaaa) [dpl_120_2] to 1.0.0 (100aaaa) [dpl_100_0]: smoke tests failed after promotion of 120aaaa`,
    ]);
    expect((await log()).map((r) => [r.deployment_id, r.status])).toEqual([['dpl_100_0', 'success'], ['dpl_110_1', 'failed'], ['dpl_120_2', 'rolled_back']]);
  });

  it('refuses an ops-ref that is not a commit before anything is deployed', async () => {
    const run = await deploy('1.3.0', HEALTHY_APP, { opsRef: 'main' });
    expect(run.result).toBe('failure');
    expect(run.step('Check that ops-ref is a commit').output).toContain("ops-ref must be the full 40-character commit SHA of your uses: line, got 'main'");
    expect(world.calls).toEqual([]);
    expect(run.steps.filter((s) => s.outcome !== 'skipped').map((s) => s.name)).toEqual(['Check that ops-ref is a commit', 'Job summary']);
  });
});

const stackSkip = postgres.skip ?? alertingStackSkip();

describe.skipIf(stackSkip !== undefined)(`the deploy workflow's metric analysis, with the real Prometheus and Alertmanager${stackSkip ? ` (skipped: ${stackSkip})` : ''}`, () => {
  /** the analysis window: the shortest cc-ops analyze takes (what it proves is which calls fall in which window) */
  const WINDOW_S = 10;
  let dir: string;
  let stack: AlertingStack;
  let world: VercelWorld;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cc-workflow-analysis-'));
    stack = await startAlertingStack();
    world = await startVercelWorld();
    writeFakeVercelCli(dir);
  }, 120_000);
  afterAll(async () => {
    await world?.close();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** The browsers' API calls of a release: n calls, a share failing, around ms each. */
  const traffic = (release: string, n: number, failing: number, ms: number) =>
    stack.insertEvents(Array.from({ length: n }, (_, i) => ({
      event_type: 'api_latency',
      event_data: { endpoint: '/rest/v1/orders', method: 'GET', latency_ms: ms * (0.8 + (i % 5) / 10), status: i < n * failing ? 503 : 200, service: 'web', env: 'production', release },
    })));

  it('a release worse than the one before is rolled back after promotion, with the queries and values in the alert', async () => {
    const secrets = { ALERTMANAGER_URL: stack.alertmanager.url, PROMETHEUS_URL: stack.prometheus.url };
    const first = await runDeploy(world, dir, stack.db.connectionString, '1.0.0', HEALTHY_APP, { analysisWindow: '0', secrets });
    expect(first.result, first.log()).toBe('success');
    // Users on 1.0.0 (a whole window of them before the deploy starts, and on until the promotion,
    // however long the deploy's steps take), then on 1.1.0 from its promotion on: slower, and one
    // call in four failing.
    let promoted = false;
    const feeding: Promise<void>[] = [(async () => {
      while (!promoted) {
        await traffic('1.0.0', 40, 0.02, 150);
        await new Promise((resolve) => setTimeout(resolve, (WINDOW_S * 1000) / 5));
      }
    })()];
    await new Promise((resolve) => setTimeout(resolve, WINDOW_S * 1000));
    world.onPromote = (version) => {
      promoted = true;
      feeding.push((async () => {
        for (let i = 0; i < 4; i++) {
          await traffic(version, 40, 0.25, 1500);
          await new Promise((resolve) => setTimeout(resolve, (WINDOW_S * 1000) / 5));
        }
      })());
    };
    const run = await runDeploy(world, dir, stack.db.connectionString, '1.1.0', HEALTHY_APP, { analysisWindow: `${WINDOW_S}s`, secrets });
    promoted = true; // 1.0.0's users stop even when the run never promoted
    await Promise.all(feeding);
    expect(run.result, run.log()).toBe('failure');
    expect(world.calls).toEqual(['deploy dpl_110_1', 'promote dpl_110_1', 'rollback to dpl_100_0']);
    expect(run.step('Smoke-test production').outcome).toBe('success');
    expect(run.step('cc-ops analyze').outcome).toBe('failure');
    expect(run.step('cc-ops analyze').output).toMatch(/analysis: regression of 1\.1\.0 against 1\.0\.0: API error ratio 2\d\.\d% vs \d\.\d%/);
    expect(run.step('cc-ops rollback').output).toContain('production serves 1.0.0');
    expect(run.summary).toContain('### Metric analysis');
    const alerts = (await (await fetch(`${stack.alertmanager.url}/api/v2/alerts?filter=alertname%3D%22DeploymentRolledBack%22`)).json()) as { annotations: Record<string, string> }[];
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.annotations.description).toContain('metric analysis: regression of 1.1.0 against 1.0.0');
    expect(alerts[0]!.annotations.evidence).toMatch(/^API error ratio: .*; 1\.1\.0: sum\(.*release="1\.1\.0".* at .*; 1\.0\.0: sum\(.*release="1\.0\.0"/m);
    const { rows } = await stack.exporter.pool.query(`SELECT deployment_id, status, smoke_test_passed FROM deployment_log ORDER BY id`);
    expect(rows).toEqual([
      { deployment_id: 'dpl_100_0', status: 'success', smoke_test_passed: true },
      { deployment_id: 'dpl_110_1', status: 'rolled_back', smoke_test_passed: true },
    ]);
    process.stdout.write(`\nworkflow with analysis: ${run.step('cc-ops analyze').output.split('\n').filter((l) => /FAIL|PASS|SKIPPED/.test(l)).join(' | ')}\n`);
  }, 240_000);
});

describe('the workflow runner keeps GitHub\'s shell semantics', () => {
  it('a run step without a shell is bash -e without pipefail (a piped failure passes); shell: bash fails it; if: sees outcomes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-runner-'));
    try {
      const file = join(dir, 'w.yml');
      writeFileSync(file, `
on: push
jobs:
  j:
    runs-on: ubuntu-24.04
    steps:
      - name: piped, default shell
        id: plain
        run: false | tee "$RUNNER_TEMP/x"
      - name: piped, bash
        id: strict
        continue-on-error: true
        shell: bash
        run: false | tee "$RUNNER_TEMP/x"
      - name: output
        id: out
        run: |
          echo "word=\${{ steps.strict.outcome }}-\${{ steps.plain.outcome }}" >> "$GITHUB_OUTPUT"
          { echo 'text<<EOF'; echo 'two'; echo 'lines'; echo 'EOF'; } >> "$GITHUB_OUTPUT"
      - name: after a failure only
        if: failure()
        run: echo never
      - name: fail
        run: exit 3
      - name: skipped after the failure
        run: echo never
      - name: always
        if: always() && steps.out.outputs.word == 'FAILURE-success'
        run: echo "ran"
`);
      const run = await runWorkflowJob({ file, job: 'j', env: { PATH: process.env.PATH ?? '' } });
      expect(run.steps.map((s) => [s.name, s.outcome, s.conclusion])).toEqual([
        ['piped, default shell', 'success', 'success'],
        ['piped, bash', 'failure', 'success'],
        ['output', 'success', 'success'],
        ['after a failure only', 'skipped', 'skipped'],
        ['fail', 'failure', 'failure'],
        ['skipped after the failure', 'skipped', 'skipped'],
        ['always', 'success', 'success'],
      ]);
      expect(run.step('piped, default shell').shell).toBe('bash -e {0}');
      expect(run.step('output').outputs).toEqual({ word: 'failure-success', text: 'two\nlines' });
      expect(run.step('fail').exitCode).toBe(3);
      expect(run.result).toBe('failure');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// cc-ops deploy, smoke, rollback and annotate as a child process: --help and bad usage, settings
// problems (exit 2, every problem listed, no secret printed), an unreachable database (exit 1),
// and deploy start/finish against a real Postgres and a Grafana fake (a retried step annotates once).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOps } from '../support/cli.js';
import { backends, connect, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { HEALTHY_APP, startAppFake, startGrafanaFake, unreachableUrl, type AppFake, type GrafanaFake } from '../support/deploy-fakes.js';

describe('cc-ops deploy commands: usage and configuration', () => {
  it('list the deploy commands in cc-ops --help', async () => {
    const r = await runOps(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['deploy', 'smoke', 'rollback', 'annotate']) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\s+\\S`, 'm'));
  });

  for (const command of [['deploy'], ['smoke'], ['rollback'], ['annotate'], ['deploy', 'start']]) {
    it(`${command.join(' ')} --help prints its usage and exits 0; an unknown option exits 2`, async () => {
      const help = await runOps([...command, '--help']);
      expect(help.code, help.output).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^usage: cc-ops ${command[0]} `));
      expect(help.stdout).toMatch(/^exit: 0 /m);
      const bad = await runOps([...command, '--no-such-option']);
      expect(bad.code, bad.output).toBe(2);
      expect(bad.stderr).toMatch(/Unknown option '--no-such-option'/);
    });
  }

  it.each([
    [['deploy'], 'deploy: say start or finish'],
    [['deploy', 'begin'], "deploy: unknown subcommand 'begin'"],
    [['deploy', 'start'], 'deploy start: --deployment-id is required'],
    [['deploy', 'finish', '--deployment-id', 'dpl_1', '--status', 'maybe'], 'deploy finish: --status must be success or failed'],
    [['deploy', 'finish', '--deployment-id', 'dpl_1', '--status', 'success', '--smoke-report', '/nonexistent/report.json'], 'deploy finish: --smoke-report /nonexistent/report.json: ENOENT'],
    [['smoke'], 'smoke: --url is required'],
    [['smoke', '--url', 'ftp://x', '--attempts', '0', '--time-limit', 'soon'], 'smoke: --url must be an http(s) URL; --attempts must be a whole number from 1 to 100, got "0"; --time-limit must be a duration'],
    [['annotate'], 'annotate: --text is required'],
    [['rollback', '--environment', ''], 'rollback: --environment must not be empty'],
  ])('%j is bad usage: exit 2 with "%s"', async (args, message) => {
    const r = await runOps(args, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('list every settings problem at once, exit 2, and never print a secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-ops-settings-'));
    try {
      writeFileSync(join(dir, 'empty'), '');
      const r = await runOps(['rollback'], {
        DATABASE_URL: 'postgres://u:db-secret-pw@127.0.0.1:1/x',
        DATABASE_URL_FILE: join(dir, 'nope'),
        GRAFANA_URL: 'grafana.example.com',
        VERCEL_TOKEN_FILE: join(dir, 'empty'),
        OPS_HTTP_TIMEOUT_MS: '5',
      });
      expect(r.code, r.output).toBe(2);
      expect(r.stderr).toContain('DATABASE_URL and DATABASE_URL_FILE are both set; set one');
      expect(r.stderr).toContain('GRAFANA_URL must be an http(s) URL');
      expect(r.stderr).toContain(`VERCEL_TOKEN_FILE: ${join(dir, 'empty')} is empty`);
      expect(r.stderr).toContain('VERCEL_PROJECT_ID is not set');
      expect(r.stderr).toContain('OPS_HTTP_TIMEOUT_MS must be a whole number from 100 to 300000, got "5"');
      expect(r.output).not.toContain('db-secret-pw');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deploy finish refuses --status success with a failed smoke report: exit 2 with the failed checks, nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-ops-smoke-report-'));
    try {
      const report = {
        passed: false, startedAt: new Date().toISOString(), durationMs: 10,
        checks: [
          { name: 'main page', url: 'https://x/', passed: true, status: 200, attempts: 1, durationMs: 5, error: undefined },
          { name: 'API health', url: 'https://x/api/health', passed: false, status: 500, attempts: 5, durationMs: 5, error: 'HTTP 500' },
        ],
      };
      writeFileSync(join(dir, 'smoke.json'), JSON.stringify(report));
      // An unreachable database: the refusal comes before any connection.
      const r = await runOps(['deploy', 'finish', '--deployment-id', 'dpl_1', '--status', 'success', '--smoke-report', join(dir, 'smoke.json')], {
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      });
      expect(r.code, r.output).toBe(2);
      expect(r.stderr).toContain('deploy finish: refused: --status success with a failed smoke report (API health (HTTP 500)); record --status failed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('need DATABASE_URL for deploy and a token with GRAFANA_URL (exit 2)', async () => {
    const noDb = await runOps(['deploy', 'start', '--deployment-id', 'dpl_1']);
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('DATABASE_URL (or DATABASE_URL_FILE) is not set');
    const noToken = await runOps(['annotate', '--text', 'x'], { GRAFANA_URL: 'http://127.0.0.1:1' });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('GRAFANA_URL is set but GRAFANA_TOKEN (or GRAFANA_TOKEN_FILE) is not');
  });

  it('exit 1 when the database is unreachable, with the URL shown without its password', async () => {
    const url = new URL(await unreachableUrl());
    const r = await runOps(['deploy', 'start', '--deployment-id', 'dpl_1'], { DATABASE_URL: `postgres://deployer:s3cret-pw@${url.host}/app` });
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain(`deploy start: cannot connect to postgres://deployer:***@${url.host}/app: `);
    expect(r.output).not.toContain('s3cret-pw');
  });
});

describe('cc-ops smoke and annotate', () => {
  let app: AppFake;
  let grafana: GrafanaFake;
  beforeAll(async () => {
    [app, grafana] = await Promise.all([startAppFake(), startGrafanaFake()]);
  });
  afterAll(async () => {
    await Promise.all([app.close(), grafana.close()]);
  });

  it('smoke: exit 0 on a healthy app, 1 when the API health check fails, with the table', async () => {
    const ok = await runOps(['smoke', '--url', app.url, '--initial-delay', '50ms']);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.stdout).toMatch(/^API health\s+PASS\s+200\s+1\s/m);
    app.routes.set('/api/health', { ...HEALTHY_APP['/api/health']!, status: 500 });
    const failing = await runOps(['smoke', '--url', app.url, '--attempts', '2', '--initial-delay', '50ms']);
    expect(failing.code, failing.output).toBe(1);
    expect(failing.stdout).toMatch(/^API health\s+FAIL\s+500\s+2\s.*HTTP 500$/m);
    app.routes.set('/api/health', { ...HEALTHY_APP['/api/health']! });
  });

  it('annotate: a tagged region in Grafana with the bearer token; exit 1 when Grafana refuses', async () => {
    const r = await runOps(['annotate', '--text', 'maintenance', '--tags', 'maintenance,db', '--time', '2026-01-02T03:04:05Z', '--duration', '15m'], { GRAFANA_URL: grafana.url, GRAFANA_TOKEN: grafana.token });
    expect(r.code, r.output).toBe(0);
    const id = Number(/annotation (\d+) added/.exec(r.stdout)![1]);
    expect(grafana.annotations.get(id)).toEqual({ id, time: Date.parse('2026-01-02T03:04:05Z'), timeEnd: Date.parse('2026-01-02T03:19:05Z'), tags: ['maintenance', 'db'], text: 'maintenance' });
    expect(grafana.requests.at(-1)!.authorization).toBe(`Bearer ${grafana.token}`);
    expect(r.output).not.toContain(grafana.token);
    grafana.failWith = 500;
    try {
      const refused = await runOps(['annotate', '--text', 'x'], { GRAFANA_URL: grafana.url, GRAFANA_TOKEN: grafana.token });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(`annotate: Grafana: create annotation failed: POST ${grafana.url}/api/annotations answered 500: Internal Server Error\n`);
    } finally {
      grafana.failWith = undefined;
    }
  });
});

const postgres = backends.find((b) => b.kind === 'postgres')!;

describe.skipIf(postgres.skip !== undefined)(`cc-ops deploy start/finish [postgres]${postgres.skip ? ` (skipped: ${postgres.skip})` : ''}`, () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let grafana: GrafanaFake;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    sql = await connect(db);
    grafana = await startGrafanaFake();
    env = { DATABASE_URL: db.connectionString, GRAFANA_URL: grafana.url, GRAFANA_TOKEN: grafana.token, GITHUB_ACTOR: 'ci-bot' };
  });
  afterAll(async () => {
    await sql?.end();
    await grafana?.close();
    await db?.stop();
  });

  it('start writes the row and opens one annotation, even when the step is retried; finish closes it', async () => {
    const args = ['deploy', 'start', '--deployment-id', 'dpl_abc', '--environment', 'production', '--version', '7.0.0', '--commit', '9f8e7d6c5b4a39281706f5e4d3c2b1a098765432', '--url', 'https://connect-abc.vercel.app'];
    const first = await runOps(args, env);
    expect(first.code, first.output).toBe(0);
    const retried = await runOps(args, env);
    expect(retried.code, retried.output).toBe(0);
    expect(retried.stdout).toContain('exists already');
    expect(grafana.annotations.size).toBe(1);
    const [annotation] = [...grafana.annotations.values()];
    expect(annotation).toMatchObject({ tags: ['deploy', 'environment:production', 'env:production', 'version:7.0.0', 'commit:9f8e7d6c5b4a'], text: 'Deploying 7.0.0 (9f8e7d6) to production', timeEnd: undefined });
    const { rows: [row] } = await sql.query(`SELECT status, version, commit_sha, deployed_by, metadata, extract(epoch FROM deployed_at) * 1000 AS at FROM deployment_log WHERE deployment_id = 'dpl_abc'`);
    expect(row).toMatchObject({ status: 'deploying', version: '7.0.0', deployed_by: 'ci-bot', metadata: { url: 'https://connect-abc.vercel.app', grafana_annotation_id: annotation!.id } });
    expect(annotation!.time).toBe(Math.floor(Number(row.at)));

    const finish = await runOps(['deploy', 'finish', '--deployment-id', 'dpl_abc', '--status', 'success'], env);
    expect(finish.code, finish.output).toBe(0);
    expect(finish.stdout).toContain('is now success; no smoke-test result');
    expect(grafana.annotations.size).toBe(1);
    expect(annotation!.timeEnd).toBeGreaterThanOrEqual(annotation!.time);
    expect(annotation!.tags).toContain('status:success');
    expect(annotation!.text).toBe('Deploy of 7.0.0 (9f8e7d6) to production: succeeded; no smoke-test result');
    const { rows: [after] } = await sql.query(`SELECT status, smoke_test_passed, finished_at IS NOT NULL AS finished FROM deployment_log WHERE deployment_id = 'dpl_abc'`);
    expect(after).toEqual({ status: 'success', smoke_test_passed: null, finished: true });
  });

  it('finish of an unknown deployment, or of a rolled-back one, exits 1 and changes nothing', async () => {
    const unknown = await runOps(['deploy', 'finish', '--deployment-id', 'dpl_nope', '--status', 'failed'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no deployment dpl_nope in deployment_log (deploy start records it)');
    await sql.query(`SELECT log_deployment('dpl_rb', 'production'), log_rollback('dpl_rb', 'dpl_abc')`);
    const rolledBack = await runOps(['deploy', 'finish', '--deployment-id', 'dpl_rb', '--status', 'failed'], env);
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.stderr).toContain('was rolled back already');
    expect((await sql.query(`SELECT status FROM deployment_log WHERE deployment_id = 'dpl_rb'`)).rows[0].status).toBe('rolled_back');
  });
});

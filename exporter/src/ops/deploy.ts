// `cc-ops deploy start|finish`: a deployment's row in deployment_log and its Grafana annotation.
// The row is written first and is the record; Grafana is told after. When Grafana cannot be
// reached the row stands, the command says so and exits 3 (done with a warning).
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import {
  describeVersion, getDeployment, logDeployment, mergeMetadata, updateDeploymentStatus, type DeploymentRow,
} from './deploy/deployment-log.js';
import { createGrafanaClient, tag } from './deploy/grafana.js';
import type { DeploySettings } from './deploy/settings.js';
import type { SmokeReport } from './deploy/smoke.js';
import { connectOrExit, errorMessage, parseCommand, usageError } from './deploy-support.js';
import { isEntryPoint } from './entry.js';
import { opsSettingsOrExit } from './settings.js';

const ENV_HELP = `Environment: DATABASE_URL (or DATABASE_URL_FILE), a role that may run the deployment_log
functions (on Supabase: postgres); GRAFANA_URL and GRAFANA_TOKEN (or GRAFANA_TOKEN_FILE, a
service-account token) to annotate; without GRAFANA_URL no annotation is made. OPS_HTTP_TIMEOUT_MS
bounds every HTTP call (default 10000).`;

const USAGE = `usage: cc-ops deploy start --deployment-id ID [--environment ENV] [--version V] [--commit SHA] [--deployed-by WHO] [--url URL]
       cc-ops deploy finish --deployment-id ID --status success|failed [--smoke-report FILE]

start    records the deployment in deployment_log (status deploying) and opens a Grafana
         annotation tagged deploy, with the version and commit
finish   sets its outcome and smoke-test result, and closes the annotation's time region

  --deployment-id ID    the Vercel deployment id (dpl_…): the row's key
  --environment ENV     production, staging, … (default production)
  --version V           the version shown in Grafana and cc_deployment_info
  --commit SHA          the commit deployed
  --deployed-by WHO     who or what deployed (default: $GITHUB_ACTOR when set)
  --url URL             the deployment's URL, kept in the row's metadata
  --status STATUS       finish: success or failed
  --smoke-report FILE   finish: the JSON report of cc-ops smoke --report; sets smoke_test_passed
                        (--status success with a failed report is refused: exit 2)
  --help                this text

${ENV_HELP}

exit: 0 done, 1 failed (database unreachable, no such deployment), 2 bad usage or
configuration (a failed smoke test recorded as success among them), 3 recorded but Grafana not
annotated
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parseCommand('deploy', USAGE, argv, {
    'deployment-id': { type: 'string' },
    environment: { type: 'string' },
    version: { type: 'string' },
    commit: { type: 'string' },
    'deployed-by': { type: 'string' },
    url: { type: 'string' },
    status: { type: 'string' },
    'smoke-report': { type: 'string' },
  }, 1);
  if (typeof args === 'number') return args;
  const [sub] = args.positionals;
  if (sub !== 'start' && sub !== 'finish') return usageError('deploy', sub === undefined ? 'say start or finish' : `unknown subcommand '${sub}'`, USAGE);
  const command = `deploy ${sub}`;
  const deploymentId = args.string('deployment-id');
  if (!deploymentId) return usageError(command, '--deployment-id is required', USAGE);

  let finish: { status: 'success' | 'failed'; report: SmokeReport | undefined } | undefined;
  if (sub === 'finish') {
    const status = args.string('status');
    if (status !== 'success' && status !== 'failed') return usageError(command, '--status must be success or failed', USAGE);
    let report: SmokeReport | undefined;
    const file = args.string('smoke-report');
    if (file !== undefined) {
      try {
        report = JSON.parse(readFileSync(file, 'utf8')) as SmokeReport;
        if (typeof report?.passed !== 'boolean' || !Array.isArray(report.checks)) throw new Error('not a report of cc-ops smoke');
      } catch (err) {
        return usageError(command, `--smoke-report ${file}: ${errorMessage(err)}`, USAGE);
      }
    }
    // A failed smoke test is never recorded as success (the database refuses it too, migration 012).
    if (status === 'success' && report?.passed === false) {
      const failedChecks = report.checks.filter((c) => !c.passed).map((c) => `${c.name} (${c.error ?? 'failed'})`);
      console.error(`${command}: refused: --status success with a failed smoke report (${failedChecks.join('; ') || 'passed: false'}); record --status failed`);
      return 2;
    }
    finish = { status, report };
  }

  const ops = opsSettingsOrExit(command, { deploy: { database: true } });
  if (typeof ops === 'number') return ops;
  const settings = ops.deploy!;
  const db = await connectOrExit(command, settings);
  if (typeof db === 'number') return db;
  try {
    if (finish) return await finishDeployment(db, settings, deploymentId, finish.status, finish.report);
    return await startDeployment(db, settings, {
      deploymentId,
      environment: args.string('environment') ?? 'production',
      version: args.string('version'),
      commitSha: args.string('commit'),
      deployedBy: args.string('deployed-by') ?? ops.githubActor,
      url: args.string('url'),
    });
  } catch (err) {
    console.error(`${command}: ${errorMessage(err)}`);
    return 1;
  } finally {
    await db.end().catch(() => undefined);
  }
}

interface StartArgs {
  deploymentId: string;
  environment: string;
  version: string | undefined;
  commitSha: string | undefined;
  deployedBy: string | undefined;
  url: string | undefined;
}

async function startDeployment(db: pg.Client, settings: DeploySettings, a: StartArgs): Promise<number> {
  // A retried CI step keeps the annotation it already has (log_deployment replaces metadata).
  const existing = await getDeployment(db, a.deploymentId);
  const annotationId = existing?.metadata.grafana_annotation_id;
  const metadata: Record<string, unknown> = { ...existing?.metadata };
  if (a.url) metadata.url = a.url;
  if (settings.runUrl) metadata.run_url = settings.runUrl;
  const rowId = await logDeployment(db, { ...a, metadata });
  const row = (await getDeployment(db, a.deploymentId))!;
  console.log(`deploy start: deployment_log row ${rowId}: ${a.deploymentId}, ${describeVersion(row)} to ${a.environment}, status ${row.status}`);

  if (!settings.grafana) {
    console.log('deploy start: GRAFANA_URL is not set: no annotation');
    return 0;
  }
  if (typeof annotationId === 'number') {
    console.log(`deploy start: Grafana annotation ${annotationId} exists already`);
    return 0;
  }
  const grafana = createGrafanaClient(settings.grafana, settings.httpTimeoutMs);
  try {
    const id = await grafana.createAnnotation({
      time: row.deployed_at.getTime(),
      tags: deployTags(row),
      text: `Deploying ${describeVersion(row)} to ${row.environment}${settings.runUrl ? ` (${settings.runUrl})` : ''}`,
    });
    await mergeMetadata(db, a.deploymentId, { grafana_annotation_id: id });
    console.log(`deploy start: Grafana annotation ${id} opened`);
    return 0;
  } catch (err) {
    console.error(`deploy start: warning: ${errorMessage(err)}; the deployment is recorded without a Grafana annotation (deploy finish adds one)`);
    return 3;
  }
}

async function finishDeployment(
  db: pg.Client, settings: DeploySettings, deploymentId: string, status: 'success' | 'failed', report: SmokeReport | undefined,
): Promise<number> {
  const before = await getDeployment(db, deploymentId);
  if (!before) {
    console.error(`deploy finish: no deployment ${deploymentId} in deployment_log (deploy start records it)`);
    return 1;
  }
  if (before.status === 'rolled_back') {
    console.error(`deploy finish: ${deploymentId} was rolled back already; its status stays rolled_back`);
    return 1;
  }
  await updateDeploymentStatus(db, deploymentId, status, report?.passed, report);
  const row = (await getDeployment(db, deploymentId))!;
  const smoke = row.smoke_test_passed === null ? 'no smoke-test result' : row.smoke_test_passed ? 'smoke tests passed' : 'smoke tests FAILED';
  console.log(`deploy finish: ${deploymentId} (${describeVersion(row)}, ${row.environment}) is now ${row.status}; ${smoke}`);

  if (!settings.grafana) {
    console.log('deploy finish: GRAFANA_URL is not set: no annotation');
    return 0;
  }
  const grafana = createGrafanaClient(settings.grafana, settings.httpTimeoutMs);
  const end = (row.finished_at ?? new Date()).getTime();
  const text = `Deploy of ${describeVersion(row)} to ${row.environment}: ${status === 'success' ? 'succeeded' : 'FAILED'}; ${smoke}${settings.runUrl ? ` (${settings.runUrl})` : ''}`;
  const tags = [...deployTags(row), tag('status', status)];
  const annotationId = row.metadata.grafana_annotation_id;
  try {
    if (typeof annotationId === 'number') {
      await grafana.updateAnnotation(annotationId, { timeEnd: end, text, tags });
      console.log(`deploy finish: Grafana annotation ${annotationId} closed`);
    } else {
      // deploy start could not annotate: the whole region now.
      const id = await grafana.createAnnotation({ time: row.deployed_at.getTime(), timeEnd: end, tags, text });
      await mergeMetadata(db, deploymentId, { grafana_annotation_id: id });
      console.log(`deploy finish: Grafana annotation ${id} added`);
    }
    return 0;
  } catch (err) {
    console.error(`deploy finish: warning: ${errorMessage(err)}; the outcome is recorded in deployment_log, Grafana does not show it`);
    return 3;
  }
}

/** deploy, environment:…, env:…, version:…, commit:… (env: the label name of the browser and edge series). */
export function deployTags(row: Pick<DeploymentRow, 'environment' | 'version' | 'commit_sha'>): string[] {
  const tags = ['deploy', tag('environment', row.environment), tag('env', row.environment)];
  if (row.version) tags.push(tag('version', row.version));
  if (row.commit_sha) tags.push(tag('commit', row.commit_sha.slice(0, 12)));
  return tags;
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();

// `cc-ops rollback`: puts production back on the last successful deployment of the environment.
// Order, so that deployment_log is right whatever fails: the request is noted on the failed row,
// Vercel is asked (Instant Rollback), then the outcome is recorded (log_rollback, or the row says
// the rollback failed), and only then Grafana is annotated and Alertmanager told.
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { evidenceOf, type AnalysisReport } from './deploy/analysis.js';
import { deploymentsDashboardUrl, pushAlerts, RUNBOOKS_URL, type PushedAlert } from './deploy/alertmanager.js';
import {
  describeVersion, getDeployment, inTransaction, lastSuccessfulDeployment, logDeployment, logRollback, mergeMetadata,
  updateDeploymentStatus, type DeploymentRow,
} from './deploy/deployment-log.js';
import { createGrafanaClient, tag } from './deploy/grafana.js';
import type { DeploySettings } from './deploy/settings.js';
import { createVercelClient } from './deploy/vercel.js';
import { connectOrExit, errorMessage, parseCommand, settingsOrExit, usageError } from './deploy-support.js';
import { isEntryPoint } from './entry.js';

const USAGE = `usage: cc-ops rollback --environment ENV [--deployment-id ID] [--to ID] [--reason TEXT] [--evidence FILE] [--dry-run]

Rolls the environment back to its last successful deployment (get_last_successful_deployment):
asks Vercel for an Instant Rollback (POST /v1/projects/{project}/rollback/{deployment}), records
log_rollback() in deployment_log, annotates Grafana (tags deploy, rollback) and pushes a critical
DeploymentRolledBack alert to Alertmanager. When Vercel refuses, the failed deployment's row
says so (status failed, metadata.rollback) and a critical DeploymentRollbackFailed alert is sent.

  --environment ENV     the environment to roll back (default production)
  --deployment-id ID    the failed deployment (default: the environment's latest in deployment_log)
  --to ID               roll back to this deployment instead (it must be in deployment_log)
  --reason TEXT         why, for Vercel, Grafana and the alert (default "smoke tests failed", or
                        the analysis's summary with --evidence)
  --evidence FILE       the report of cc-ops analyze --report: its failed checks (values and
                        queries) go into the alert's evidence annotation and the Grafana note
  --dry-run             say what would be done; change nothing, call nothing
  --help                this text

Environment: DATABASE_URL (or _FILE); VERCEL_TOKEN (or _FILE), VERCEL_PROJECT_ID, VERCEL_TEAM_ID
(for a team's project); GRAFANA_URL and GRAFANA_TOKEN (or _FILE) to annotate; ALERTMANAGER_URL
(and ALERTMANAGER_TOKEN or _FILE behind an authenticating proxy) to alert; a part whose URL is
unset is skipped and said so. OPS_HTTP_TIMEOUT_MS bounds every HTTP call (default 10000).

exit: 0 rolled back, 1 not rolled back (or nothing to roll back to), 2 bad usage or
configuration, 3 rolled back but the log, Grafana or Alertmanager could not be told
`;

/** How long a pushed alert stays firing: the same 15 minutes as the DeploymentRolledBack rule. */
const ROLLED_BACK_ALERT_MS = 15 * 60_000;
/** A failed rollback stays firing for an hour (its route repeats it every 15 minutes). */
const ROLLBACK_FAILED_ALERT_MS = 60 * 60_000;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parseCommand('rollback', USAGE, argv, {
    environment: { type: 'string' },
    'deployment-id': { type: 'string' },
    to: { type: 'string' },
    reason: { type: 'string' },
    evidence: { type: 'string' },
    'dry-run': { type: 'boolean' },
  });
  if (typeof args === 'number') return args;
  let evidence: AnalysisReport | undefined;
  const evidenceFile = args.string('evidence');
  if (evidenceFile !== undefined) {
    try {
      evidence = JSON.parse(readFileSync(evidenceFile, 'utf8')) as AnalysisReport;
      if (typeof evidence?.summary !== 'string' || !Array.isArray(evidence.checks)) throw new Error('not a report of cc-ops analyze');
    } catch (err) {
      return usageError('rollback', `--evidence ${evidenceFile}: ${errorMessage(err)}`, USAGE);
    }
  }
  const environment = args.string('environment') ?? 'production';
  if (environment.trim() === '') return usageError('rollback', '--environment must not be empty', USAGE);
  const settings = settingsOrExit('rollback', { database: true, vercel: true });
  if (typeof settings === 'number') return settings;
  const db = await connectOrExit('rollback', settings);
  if (typeof db === 'number') return db;
  try {
    return await rollback(db, settings, {
      environment,
      failedId: args.string('deployment-id'),
      targetId: args.string('to'),
      reason: args.string('reason') ?? (evidence ? `metric analysis: ${evidence.summary}` : 'smoke tests failed'),
      evidence: evidence ? evidenceOf(evidence) : undefined,
      dryRun: args.flag('dry-run'),
    });
  } catch (err) {
    console.error(`rollback: ${errorMessage(err)}`);
    return 1;
  } finally {
    await db.end().catch(() => undefined);
  }
}

interface RollbackArgs {
  environment: string;
  failedId: string | undefined;
  targetId: string | undefined;
  reason: string;
  /** the failed checks of a metric analysis, with their values and queries */
  evidence: string | undefined;
  dryRun: boolean;
}

async function rollback(db: pg.Client, settings: DeploySettings, a: RollbackArgs): Promise<number> {
  const say = (line: string) => console.log(`rollback: ${a.dryRun ? '[dry run] ' : ''}${line}`);
  const vercel = createVercelClient(settings.vercel!, settings.httpTimeoutMs);

  // The failed deployment: named, or the environment's latest.
  let failed: DeploymentRow | undefined;
  if (a.failedId) {
    failed = await getDeployment(db, a.failedId);
    if (failed && failed.environment !== a.environment) {
      console.error(`rollback: ${a.failedId} is a deployment of ${failed.environment}, not ${a.environment}`);
      return 2;
    }
  } else {
    const { rows } = await db.query<{ deployment_id: string }>(
      'SELECT deployment_id FROM public.deployment_log WHERE environment = $1 ORDER BY deployed_at DESC, id DESC LIMIT 1', [a.environment]);
    if (!rows[0]) {
      console.error(`rollback: deployment_log has no deployment of ${a.environment}; nothing to roll back`);
      return 1;
    }
    failed = await getDeployment(db, rows[0].deployment_id);
  }
  const failedId = failed?.deployment_id ?? a.failedId!;
  if (failed?.status === 'rolled_back') {
    const target = failed.rollback_target_id;
    say(`${failedId} was rolled back already${target ? ` (deployment_log row ${target})` : ''}; nothing to do`);
    return 0;
  }

  // The target: named, or the last successful deployment before it.
  let target: DeploymentRow | undefined;
  if (a.targetId) {
    target = await getDeployment(db, a.targetId);
    if (!target || target.environment !== a.environment) {
      console.error(`rollback: --to ${a.targetId} is not a deployment of ${a.environment} in deployment_log`);
      return 2;
    }
  } else {
    target = await lastSuccessfulDeployment(db, a.environment, failedId);
  }
  const failedName = failed ? `${describeVersion(failed)} [${failedId}]` : failedId;

  if (a.dryRun) {
    if (!failed) say(`would record ${failedId} in deployment_log first (it is not there)`);
    if (!target) {
      say(`no successful deployment of ${a.environment} to roll back to: would mark ${failedId} failed and push DeploymentRollbackFailed`);
      return 1;
    }
    say(`${a.environment} would go from ${failedName} back to ${describeVersion(target)} [${target.deployment_id}], deployed ${target.deployed_at.toISOString()}`);
    say(`would call Vercel: ${vercel.describeRollback(target.deployment_id)} (reason: ${a.reason})`);
    say(`would record log_rollback('${failedId}', '${target.deployment_id}') in deployment_log`);
    say(settings.grafana ? `would annotate Grafana at ${settings.grafana.url} (tags deploy, rollback)` : 'GRAFANA_URL is not set: no annotation');
    say(settings.alertmanager
      ? `would push DeploymentRolledBack {severity="critical", environment="${a.environment}"} to ${settings.alertmanager.url}`
      : 'ALERTMANAGER_URL is not set: no alert');
    say('nothing was changed');
    return 0;
  }

  if (!failed) {
    // Rolling back comes first; the log is completed so that it stays consistent.
    await logDeployment(db, { deploymentId: failedId, environment: a.environment, version: undefined, commitSha: undefined, deployedBy: undefined, metadata: { recorded_by: 'rollback' } });
    failed = (await getDeployment(db, failedId))!;
    say(`${failedId} was not in deployment_log; recorded it`);
  }

  const requestedAt = new Date().toISOString();
  const note = { target: target?.deployment_id ?? null, reason: a.reason, ...(a.evidence ? { evidence: a.evidence } : {}), requested_at: requestedAt, ...(settings.runUrl ? { run_url: settings.runUrl } : {}) };
  let failure: string | undefined;
  if (!target) {
    failure = `no successful deployment of ${a.environment} before ${failedId} to roll back to`;
  } else {
    await mergeMetadata(db, failedId, { rollback: { ...note, status: 'requested' } });
    say(`asking Vercel to roll ${a.environment} back from ${failedName} to ${describeVersion(target)} [${target.deployment_id}]`);
    try {
      await vercel.rollback(target.deployment_id, `${a.reason} (${failedId})`);
    } catch (err) {
      failure = errorMessage(err);
    }
  }

  if (failure !== undefined) {
    console.error(`rollback: FAILED: ${failure}; ${a.environment} still serves ${failedName}`);
    try {
      await inTransaction(db, async () => {
        if (failed!.status === 'deploying' || failed!.status === 'success') await updateDeploymentStatus(db, failedId, 'failed', undefined, undefined);
        await mergeMetadata(db, failedId, { rollback: { ...note, status: 'failed', error: failure, failed_at: new Date().toISOString() } });
      });
      say(`deployment_log: ${failedId} is failed, with the failed rollback in metadata.rollback`);
    } catch (err) {
      console.error(`rollback: deployment_log could not record the failed rollback either: ${errorMessage(err)}`);
    }
    const text = `Rollback of ${a.environment} FAILED: still serving ${failedName}${target ? `, could not go back to ${describeVersion(target)}` : ''}: ${failure}`;
    await annotate(settings, say, text, [tag('environment', a.environment), tag('env', a.environment), tag('status', 'rollback_failed')]);
    await alert(settings, say, rollbackFailedAlert(settings, a, failedName, target, failure));
    return 1;
  }

  // Vercel accepted: the record, then the announcements.
  const warnings: string[] = [];
  try {
    await inTransaction(db, async () => {
      await logRollback(db, failedId, target!.deployment_id);
      await mergeMetadata(db, failedId, { rollback: { ...note, status: 'done', done_at: new Date().toISOString() } });
    });
    say(`deployment_log: ${failedId} is rolled_back, target ${target!.deployment_id}`);
  } catch (err) {
    warnings.push(`Vercel rolled back, but deployment_log could not record it: ${errorMessage(err)}`);
  }
  const text = `Rolled back ${a.environment} from ${failedName} to ${describeVersion(target!)} [${target!.deployment_id}]: ${a.reason}${a.evidence ? `\n${a.evidence}` : ''}`;
  const annotated = await annotate(settings, say, text, [tag('environment', a.environment), tag('env', a.environment), ...(failed.version ? [tag('version', failed.version)] : [])]);
  if (!annotated) warnings.push('Grafana was not annotated');
  const alerted = await alert(settings, say, rolledBackAlert(settings, a, failedName, target!));
  if (!alerted) warnings.push('Alertmanager was not told');
  if (warnings.length > 0) {
    console.error(`rollback: warning: rolled back, but ${warnings.join('; ')}`);
    return 3;
  }
  say(`done: ${a.environment} serves ${describeVersion(target!)} again`);
  return 0;
}

/** A Grafana annotation tagged deploy and rollback; false when Grafana could not be told. */
async function annotate(settings: DeploySettings, say: (line: string) => void, text: string, tags: string[]): Promise<boolean> {
  if (!settings.grafana) {
    say('GRAFANA_URL is not set: no annotation');
    return true;
  }
  try {
    const id = await createGrafanaClient(settings.grafana, settings.httpTimeoutMs).createAnnotation({ time: Date.now(), tags: ['deploy', 'rollback', ...tags], text });
    say(`Grafana annotation ${id} added`);
    return true;
  } catch (err) {
    console.error(`rollback: warning: ${errorMessage(err)}`);
    return false;
  }
}

/** Pushes the alert; false when Alertmanager could not be told. */
async function alert(settings: DeploySettings, say: (line: string) => void, pushed: PushedAlert): Promise<boolean> {
  if (!settings.alertmanager) {
    say(`ALERTMANAGER_URL is not set: no ${pushed.labels.alertname} alert`);
    return true;
  }
  try {
    await pushAlerts(settings.alertmanager, [pushed], settings.httpTimeoutMs);
    say(`${pushed.labels.alertname} alert pushed to Alertmanager`);
    return true;
  } catch (err) {
    console.error(`rollback: warning: ${errorMessage(err)}`);
    return false;
  }
}

function window(ms: number): { startsAt: string; endsAt: string } {
  const now = Date.now();
  return { startsAt: new Date(now).toISOString(), endsAt: new Date(now + ms).toISOString() };
}

// Labels as the DeploymentRolledBack rule of prometheus/rules/connect.yml has them (alertname,
// severity, environment), so both group and route together; the details are annotations.
function rolledBackAlert(settings: DeploySettings, a: RollbackArgs, failedName: string, target: DeploymentRow): PushedAlert {
  return {
    labels: { alertname: 'DeploymentRolledBack', severity: 'critical', environment: a.environment },
    annotations: {
      summary: 'A deployment was rolled back.',
      description: `${a.environment} was rolled back from ${failedName} to ${describeVersion(target)} [${target.deployment_id}]: ${a.reason}.`,
      runbook_url: `${RUNBOOKS_URL}#deploymentrolledback`,
      dashboard_url: deploymentsDashboardUrl(settings.grafana?.url),
      ...(a.evidence ? { evidence: a.evidence } : {}),
    },
    ...window(ROLLED_BACK_ALERT_MS),
    ...(settings.runUrl ? { generatorURL: settings.runUrl } : {}),
  };
}

function rollbackFailedAlert(settings: DeploySettings, a: RollbackArgs, failedName: string, target: DeploymentRow | undefined, failure: string): PushedAlert {
  return {
    labels: { alertname: 'DeploymentRollbackFailed', severity: 'critical', environment: a.environment },
    annotations: {
      summary: 'A failed deployment could not be rolled back.',
      description: `${a.environment} still serves ${failedName} (${a.reason}); rolling back${target ? ` to ${describeVersion(target)} [${target.deployment_id}]` : ''} failed: ${failure}.`,
      runbook_url: `${RUNBOOKS_URL}#deploymentrollbackfailed`,
      dashboard_url: deploymentsDashboardUrl(settings.grafana?.url),
    },
    ...window(ROLLBACK_FAILED_ALERT_MS),
    ...(settings.runUrl ? { generatorURL: settings.runUrl } : {}),
  };
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();

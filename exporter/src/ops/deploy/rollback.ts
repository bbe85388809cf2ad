// The rollback flow of `cc-ops rollback` (../rollback.ts is the command line around it): puts an
// environment back on its last successful deployment. Order, so that deployment_log is right
// whatever fails: the request is noted on the failed row, Vercel is asked (Instant Rollback), then
// the outcome is recorded (log_rollback, or the row says the rollback failed), and only then
// Grafana is annotated and Alertmanager told.
//
// The flow speaks through two callbacks, `say` (progress) and `warn` (what went wrong), one line
// each, in the order things happen, and returns an outcome; the caller decides where the lines go
// and what the outcome's exit code is.
import type pg from 'pg';
import { deploymentsDashboardUrl, pushAlerts, RUNBOOKS_URL, type PushedAlert } from './alertmanager.js';
import {
  describeVersion, getDeployment, inTransaction, lastSuccessfulDeployment, logDeployment, logRollback, mergeMetadata,
  updateDeploymentStatus, type DeploymentRow,
} from './deployment-log.js';
import { createGrafanaClient, tag } from './grafana.js';
import type { DeploySettings } from './settings.js';
import { createVercelClient } from './vercel.js';

/** How long a pushed alert stays firing: the same 15 minutes as the DeploymentRolledBack rule. */
export const ROLLED_BACK_ALERT_MS = 15 * 60_000;
/** A failed rollback stays firing for an hour (its route repeats it every 15 minutes). */
export const ROLLBACK_FAILED_ALERT_MS = 60 * 60_000;

export interface RollbackRequest {
  environment: string;
  /** the failed deployment; undefined: the environment's latest in deployment_log */
  failedId: string | undefined;
  /** the deployment to go back to; undefined: the last successful one before the failed one */
  targetId: string | undefined;
  /** why, for Vercel, Grafana and the alert */
  reason: string;
  /** the failed checks of a metric analysis, with their values and queries */
  evidence: string | undefined;
  /** say what would be done; change nothing, call nothing */
  dryRun: boolean;
}

export interface RollbackDeps {
  /** the database of deployment_log */
  db: pg.ClientBase;
  /** Vercel (required), Grafana and Alertmanager (each skipped, and said so, when unset), the HTTP timeout, the CI run */
  settings: DeploySettings;
  /** a line of progress */
  say: (line: string) => void;
  /** a line about something that went wrong */
  warn: (line: string) => void;
  /** milliseconds clock, for tests (default Date.now) */
  now?: () => number;
}

export type RollbackOutcome =
  /** the request does not fit deployment_log (a deployment of another environment); nothing was done */
  | { outcome: 'refused'; problem: string }
  /** deployment_log has no deployment of the environment; nothing was done */
  | { outcome: 'nothing_to_roll_back'; problem: string }
  /** the failed deployment was rolled back before; nothing was done */
  | { outcome: 'already_rolled_back'; failedId: string }
  /** --dry-run: what would have been done was said; target undefined: there is nothing to go back to */
  | { outcome: 'dry_run'; failedId: string; target: DeploymentRow | undefined }
  /** not rolled back (nothing to go back to, or Vercel refused): recorded and alerted as far as possible */
  | { outcome: 'failed'; failedId: string; failure: string }
  /** Vercel rolled back; warnings: what could not be recorded or told (deployment_log, Grafana, Alertmanager) */
  | { outcome: 'rolled_back'; failedId: string; target: DeploymentRow; warnings: string[] };

/** The deployments a rollback is about, as deployment_log knows them, or why there is nothing to do. */
export type RollbackChoice =
  | { outcome: 'refused'; problem: string }
  | { outcome: 'nothing_to_roll_back'; problem: string }
  | { outcome: 'already_rolled_back'; failedId: string; failed: DeploymentRow }
  /** failed undefined: the named failed deployment is not in deployment_log; target undefined: nothing to go back to */
  | { outcome: 'chosen'; failedId: string; failed: DeploymentRow | undefined; target: DeploymentRow | undefined };

/**
 * The failed deployment (named, or the environment's latest) and the target (named with --to, or
 * the last successful deployment before the failed one, get_last_successful_deployment). Reads
 * deployment_log only.
 */
export async function chooseDeployments(db: pg.ClientBase, request: Pick<RollbackRequest, 'environment' | 'failedId' | 'targetId'>): Promise<RollbackChoice> {
  const { environment } = request;
  let failed: DeploymentRow | undefined;
  if (request.failedId) {
    failed = await getDeployment(db, request.failedId);
    if (failed && failed.environment !== environment) {
      return { outcome: 'refused', problem: `${request.failedId} is a deployment of ${failed.environment}, not ${environment}` };
    }
  } else {
    const { rows } = await db.query<{ deployment_id: string }>(
      'SELECT deployment_id FROM public.deployment_log WHERE environment = $1 ORDER BY deployed_at DESC, id DESC LIMIT 1', [environment]);
    if (!rows[0]) return { outcome: 'nothing_to_roll_back', problem: `deployment_log has no deployment of ${environment}; nothing to roll back` };
    failed = await getDeployment(db, rows[0].deployment_id);
  }
  const failedId = failed?.deployment_id ?? request.failedId!;
  if (failed?.status === 'rolled_back') return { outcome: 'already_rolled_back', failedId, failed };

  let target: DeploymentRow | undefined;
  if (request.targetId) {
    target = await getDeployment(db, request.targetId);
    if (!target || target.environment !== environment) {
      return { outcome: 'refused', problem: `--to ${request.targetId} is not a deployment of ${environment} in deployment_log` };
    }
  } else {
    target = await lastSuccessfulDeployment(db, environment, failedId);
  }
  return { outcome: 'chosen', failedId, failed, target };
}

/** Rolls the environment back (see the top of this file); throws only when deployment_log cannot be read or written before Vercel is asked. */
export async function rollBack({ db, settings, say, warn, now = Date.now }: RollbackDeps, a: RollbackRequest): Promise<RollbackOutcome> {
  if (!settings.vercel) throw new Error('rollback needs the Vercel settings (VERCEL_TOKEN, VERCEL_PROJECT_ID)');
  const vercel = createVercelClient(settings.vercel, settings.httpTimeoutMs);
  const isoNow = () => new Date(now()).toISOString();

  const choice = await chooseDeployments(db, a);
  if (choice.outcome === 'refused' || choice.outcome === 'nothing_to_roll_back') {
    warn(choice.problem);
    return choice;
  }
  if (choice.outcome === 'already_rolled_back') {
    const targetRow = choice.failed.rollback_target_id;
    say(`${choice.failedId} was rolled back already${targetRow ? ` (deployment_log row ${targetRow})` : ''}; nothing to do`);
    return { outcome: 'already_rolled_back', failedId: choice.failedId };
  }
  const { failedId, target } = choice;
  let failed = choice.failed;
  const failedName = failed ? `${describeVersion(failed)} [${failedId}]` : failedId;

  if (a.dryRun) {
    if (!failed) say(`would record ${failedId} in deployment_log first (it is not there)`);
    if (!target) {
      say(`no successful deployment of ${a.environment} to roll back to: would mark ${failedId} failed and push DeploymentRollbackFailed`);
      return { outcome: 'dry_run', failedId, target };
    }
    say(`${a.environment} would go from ${failedName} back to ${describeVersion(target)} [${target.deployment_id}], deployed ${target.deployed_at.toISOString()}`);
    say(`would call Vercel: ${vercel.describeRollback(target.deployment_id)} (reason: ${a.reason})`);
    say(`would record log_rollback('${failedId}', '${target.deployment_id}') in deployment_log`);
    say(settings.grafana ? `would annotate Grafana at ${settings.grafana.url} (tags deploy, rollback)` : 'GRAFANA_URL is not set: no annotation');
    say(settings.alertmanager
      ? `would push DeploymentRolledBack {severity="critical", environment="${a.environment}"} to ${settings.alertmanager.url}`
      : 'ALERTMANAGER_URL is not set: no alert');
    say('nothing was changed');
    return { outcome: 'dry_run', failedId, target };
  }

  if (!failed) {
    // Rolling back comes first; the log is completed so that it stays consistent.
    await logDeployment(db, { deploymentId: failedId, environment: a.environment, version: undefined, commitSha: undefined, deployedBy: undefined, metadata: { recorded_by: 'rollback' } });
    failed = (await getDeployment(db, failedId))!;
    say(`${failedId} was not in deployment_log; recorded it`);
  }

  const note = { target: target?.deployment_id ?? null, reason: a.reason, ...(a.evidence ? { evidence: a.evidence } : {}), requested_at: isoNow(), ...(settings.runUrl ? { run_url: settings.runUrl } : {}) };
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

  const facts: AlertFacts = { environment: a.environment, reason: a.reason, evidence: a.evidence, failedName, grafanaUrl: settings.grafana?.url, runUrl: settings.runUrl };
  const announce = { settings, say, warn, now };

  if (failure !== undefined) {
    warn(`FAILED: ${failure}; ${a.environment} still serves ${failedName}`);
    const failedRow = failed;
    try {
      await inTransaction(db, async () => {
        if (failedRow.status === 'deploying' || failedRow.status === 'success') await updateDeploymentStatus(db, failedId, 'failed', undefined, undefined);
        await mergeMetadata(db, failedId, { rollback: { ...note, status: 'failed', error: failure, failed_at: isoNow() } });
      });
      say(`deployment_log: ${failedId} is failed, with the failed rollback in metadata.rollback`);
    } catch (err) {
      warn(`deployment_log could not record the failed rollback either: ${errorMessage(err)}`);
    }
    const text = `Rollback of ${a.environment} FAILED: still serving ${failedName}${target ? `, could not go back to ${describeVersion(target)}` : ''}: ${failure}`;
    await annotate(announce, text, [tag('environment', a.environment), tag('env', a.environment), tag('status', 'rollback_failed')]);
    await alert(announce, rollbackFailedAlert(facts, target, failure, now()));
    return { outcome: 'failed', failedId, failure };
  }

  // Vercel accepted: the record, then the announcements.
  const rolledBackTo = target!;
  const warnings: string[] = [];
  try {
    await inTransaction(db, async () => {
      await logRollback(db, failedId, rolledBackTo.deployment_id);
      await mergeMetadata(db, failedId, { rollback: { ...note, status: 'done', done_at: isoNow() } });
    });
    say(`deployment_log: ${failedId} is rolled_back, target ${rolledBackTo.deployment_id}`);
  } catch (err) {
    warnings.push(`Vercel rolled back, but deployment_log could not record it: ${errorMessage(err)}`);
  }
  const text = `Rolled back ${a.environment} from ${failedName} to ${describeVersion(rolledBackTo)} [${rolledBackTo.deployment_id}]: ${a.reason}${a.evidence ? `\n${a.evidence}` : ''}`;
  const annotated = await annotate(announce, text, [tag('environment', a.environment), tag('env', a.environment), ...(failed.version ? [tag('version', failed.version)] : [])]);
  if (!annotated) warnings.push('Grafana was not annotated');
  const alerted = await alert(announce, rolledBackAlert(facts, rolledBackTo, now()));
  if (!alerted) warnings.push('Alertmanager was not told');
  if (warnings.length > 0) {
    warn(`warning: rolled back, but ${warnings.join('; ')}`);
  } else {
    say(`done: ${a.environment} serves ${describeVersion(rolledBackTo)} again`);
  }
  return { outcome: 'rolled_back', failedId, target: rolledBackTo, warnings };
}

interface Announce {
  settings: DeploySettings;
  say: (line: string) => void;
  warn: (line: string) => void;
  now: () => number;
}

/** A Grafana annotation tagged deploy and rollback; false when Grafana could not be told. */
async function annotate({ settings, say, warn, now }: Announce, text: string, tags: string[]): Promise<boolean> {
  if (!settings.grafana) {
    say('GRAFANA_URL is not set: no annotation');
    return true;
  }
  try {
    const id = await createGrafanaClient(settings.grafana, settings.httpTimeoutMs).createAnnotation({ time: now(), tags: ['deploy', 'rollback', ...tags], text });
    say(`Grafana annotation ${id} added`);
    return true;
  } catch (err) {
    warn(`warning: ${errorMessage(err)}`);
    return false;
  }
}

/** Pushes the alert; false when Alertmanager could not be told. */
async function alert({ settings, say, warn }: Announce, pushed: PushedAlert): Promise<boolean> {
  if (!settings.alertmanager) {
    say(`ALERTMANAGER_URL is not set: no ${pushed.labels.alertname} alert`);
    return true;
  }
  try {
    await pushAlerts(settings.alertmanager, [pushed], settings.httpTimeoutMs);
    say(`${pushed.labels.alertname} alert pushed to Alertmanager`);
    return true;
  } catch (err) {
    warn(`warning: ${errorMessage(err)}`);
    return false;
  }
}

/** What the alerts of a rollback say. */
export interface AlertFacts {
  environment: string;
  reason: string;
  /** the failed checks of a metric analysis (only DeploymentRolledBack carries them) */
  evidence: string | undefined;
  /** the failed deployment as the messages name it: "1.1.0 (ffeeddc) [dpl_…]" */
  failedName: string;
  /** GRAFANA_URL, for the dashboard link */
  grafanaUrl: string | undefined;
  /** the CI run that acted, the alerts' generatorURL */
  runUrl: string | undefined;
}

function window(now: number, ms: number): { startsAt: string; endsAt: string } {
  return { startsAt: new Date(now).toISOString(), endsAt: new Date(now + ms).toISOString() };
}

// Labels as the DeploymentRolledBack rule of prometheus/rules/connect.yml has them (alertname,
// severity, environment), so both group and route together; the details are annotations.
/** The critical DeploymentRolledBack alert, firing from `now` for ROLLED_BACK_ALERT_MS. */
export function rolledBackAlert(f: AlertFacts, target: DeploymentRow, now: number): PushedAlert {
  return {
    labels: { alertname: 'DeploymentRolledBack', severity: 'critical', environment: f.environment },
    annotations: {
      summary: 'A deployment was rolled back.',
      description: `${f.environment} was rolled back from ${f.failedName} to ${describeVersion(target)} [${target.deployment_id}]: ${f.reason}.`,
      runbook_url: `${RUNBOOKS_URL}#deploymentrolledback`,
      dashboard_url: deploymentsDashboardUrl(f.grafanaUrl),
      ...(f.evidence ? { evidence: f.evidence } : {}),
    },
    ...window(now, ROLLED_BACK_ALERT_MS),
    ...(f.runUrl ? { generatorURL: f.runUrl } : {}),
  };
}

/** The critical DeploymentRollbackFailed alert, firing from `now` for ROLLBACK_FAILED_ALERT_MS. */
export function rollbackFailedAlert(f: AlertFacts, target: DeploymentRow | undefined, failure: string, now: number): PushedAlert {
  return {
    labels: { alertname: 'DeploymentRollbackFailed', severity: 'critical', environment: f.environment },
    annotations: {
      summary: 'A failed deployment could not be rolled back.',
      description: `${f.environment} still serves ${f.failedName} (${f.reason}); rolling back${target ? ` to ${describeVersion(target)} [${target.deployment_id}]` : ''} failed: ${failure}.`,
      runbook_url: `${RUNBOOKS_URL}#deploymentrollbackfailed`,
      dashboard_url: deploymentsDashboardUrl(f.grafanaUrl),
    },
    ...window(now, ROLLBACK_FAILED_ALERT_MS),
    ...(f.runUrl ? { generatorURL: f.runUrl } : {}),
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// The parts of the rollback flow that need no Postgres, Vercel, Grafana or Alertmanager: which
// deployments a rollback is about (on an in-memory deployment_log that answers the flow's three
// reads), the two alerts it pushes, and the exit code of each outcome. The whole flow, against
// a real Postgres and Alertmanager, is exporter/test/ops/rollback.e2e.test.ts.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { exitCode } from '../rollback.js';
import type { DeploymentRow } from './deployment-log.js';
import { chooseDeployments, rollbackFailedAlert, rolledBackAlert, type AlertFacts } from './rollback.js';

let nextId = 1;
function deployment(deploymentId: string, environment: string, status: DeploymentRow['status'], deployedAt: string, more: Partial<DeploymentRow> = {}): DeploymentRow {
  return {
    id: nextId++, deployment_id: deploymentId, environment, version: null, commit_sha: null, deployed_at: new Date(deployedAt), finished_at: null,
    status, smoke_test_passed: null, rollback_target_id: null, metadata: {}, ...more,
  };
}

/** deployment_log in memory, answering the reads of chooseDeployments as Postgres would; it refuses any write. */
function deploymentLog(rows: DeploymentRow[]) {
  const newestFirst = (a: DeploymentRow, b: DeploymentRow) => b.deployed_at.getTime() - a.deployed_at.getTime() || b.id - a.id;
  const reads: string[] = [];
  const db = {
    async query(text: string, values: unknown[]) {
      const [first, second] = values as [string, string | undefined];
      if (text.includes('get_last_successful_deployment')) {
        reads.push(`last successful of ${first} but ${second}`);
        return { rows: rows.filter((r) => r.environment === first && r.status === 'success' && r.deployment_id !== second).sort(newestFirst).slice(0, 1) };
      }
      if (/^SELECT deployment_id FROM public\.deployment_log WHERE environment = \$1 ORDER BY deployed_at DESC, id DESC LIMIT 1$/.test(text)) {
        reads.push(`latest of ${first}`);
        return { rows: rows.filter((r) => r.environment === first).sort(newestFirst).slice(0, 1).map((r) => ({ deployment_id: r.deployment_id })) };
      }
      if (/FROM public\.deployment_log WHERE deployment_id = \$1$/.test(text)) {
        reads.push(`get ${first}`);
        return { rows: rows.filter((r) => r.deployment_id === first) };
      }
      throw new Error(`unexpected statement: ${text}`);
    },
  };
  return { db: db as unknown as pg.ClientBase, reads };
}

const good = deployment('dpl_good', 'production', 'success', '2026-01-01T10:00:00Z', { version: '1.0.0', commit_sha: 'a1b2c3d4e5f6' });
const older = deployment('dpl_older', 'production', 'success', '2025-12-01T10:00:00Z', { version: '0.9.0' });
const bad = deployment('dpl_bad', 'production', 'failed', '2026-01-02T10:00:00Z', { version: '1.1.0' });
const staging = deployment('dpl_stg', 'staging', 'success', '2026-01-03T10:00:00Z');
const done = deployment('dpl_done', 'eu', 'rolled_back', '2026-01-04T10:00:00Z', { rollback_target_id: 7 });
const log = [older, good, bad, staging, done];

describe('chooseDeployments', () => {
  it('without names: the environment latest deployment, back to the last successful one before it', async () => {
    const { db, reads } = deploymentLog(log);
    expect(await chooseDeployments(db, { environment: 'production', failedId: undefined, targetId: undefined })).toEqual({ outcome: 'chosen', failedId: 'dpl_bad', failed: bad, target: good });
    expect(reads).toEqual(['latest of production', 'get dpl_bad', 'last successful of production but dpl_bad']);
  });

  it('a named failed deployment that served is never its own target', async () => {
    const { db } = deploymentLog(log);
    expect(await chooseDeployments(db, { environment: 'production', failedId: 'dpl_good', targetId: undefined })).toMatchObject({ outcome: 'chosen', failedId: 'dpl_good', target: older });
  });

  it('a named failed deployment that deployment_log does not know: chosen all the same (the flow records it)', async () => {
    const { db } = deploymentLog(log);
    expect(await chooseDeployments(db, { environment: 'production', failedId: 'dpl_unknown', targetId: undefined })).toEqual({ outcome: 'chosen', failedId: 'dpl_unknown', failed: undefined, target: good });
  });

  it('--to names the target, which must be a deployment of the environment', async () => {
    const { db, reads } = deploymentLog(log);
    expect(await chooseDeployments(db, { environment: 'production', failedId: 'dpl_bad', targetId: 'dpl_older' })).toMatchObject({ outcome: 'chosen', target: older });
    expect(reads).toEqual(['get dpl_bad', 'get dpl_older']);
    for (const targetId of ['dpl_stg', 'dpl_nowhere']) {
      expect(await chooseDeployments(db, { environment: 'production', failedId: 'dpl_bad', targetId })).toEqual({
        outcome: 'refused', problem: `--to ${targetId} is not a deployment of production in deployment_log`,
      });
    }
  });

  it('no successful deployment before the failed one: chosen without a target', async () => {
    const { db } = deploymentLog(log);
    expect(await chooseDeployments(db, { environment: 'staging', failedId: undefined, targetId: undefined })).toEqual({ outcome: 'chosen', failedId: 'dpl_stg', failed: staging, target: undefined });
  });

  it('refuses a failed deployment of another environment, and says when there is nothing to roll back', async () => {
    const { db } = deploymentLog(log);
    expect(await chooseDeployments(db, { environment: 'production', failedId: 'dpl_stg', targetId: undefined })).toEqual({ outcome: 'refused', problem: 'dpl_stg is a deployment of staging, not production' });
    expect(await chooseDeployments(db, { environment: 'fresh', failedId: undefined, targetId: undefined })).toEqual({
      outcome: 'nothing_to_roll_back', problem: 'deployment_log has no deployment of fresh; nothing to roll back',
    });
  });

  it('a deployment rolled back already: no target is looked for', async () => {
    const { db, reads } = deploymentLog(log);
    expect(await chooseDeployments(db, { environment: 'eu', failedId: 'dpl_done', targetId: 'dpl_good' })).toEqual({ outcome: 'already_rolled_back', failedId: 'dpl_done', failed: done });
    expect(reads).toEqual(['get dpl_done']);
  });
});

describe('the alerts of a rollback', () => {
  const facts: AlertFacts = {
    environment: 'production', reason: 'smoke tests failed', evidence: undefined, failedName: '1.1.0 [dpl_bad]', grafanaUrl: undefined, runUrl: undefined,
  };
  const now = Date.parse('2026-01-02T10:05:00.000Z');

  it('DeploymentRolledBack: the rule labels, where it went back to and why, firing for 15 minutes', () => {
    expect(rolledBackAlert(facts, good, now)).toEqual({
      labels: { alertname: 'DeploymentRolledBack', severity: 'critical', environment: 'production' },
      annotations: {
        summary: 'A deployment was rolled back.',
        description: 'production was rolled back from 1.1.0 [dpl_bad] to 1.0.0 (a1b2c3d) [dpl_good]: smoke tests failed.',
        runbook_url: 'https://github.com/camerons-connect/connect-observability/blob/main/docs/runbooks.md#deploymentrolledback',
        dashboard_url: 'http://localhost:3000/d/cc-system-health/system-health?viewPanel=panel-107',
      },
      startsAt: '2026-01-02T10:05:00.000Z',
      endsAt: '2026-01-02T10:20:00.000Z',
    });
  });

  it('DeploymentRolledBack carries the evidence, the Grafana link and the CI run when there are any', () => {
    const alert = rolledBackAlert({ ...facts, evidence: 'API error ratio: 25.0% vs 2.5%', grafanaUrl: 'https://grafana.example.com/', runUrl: 'https://github.com/o/r/actions/runs/1' }, good, now);
    expect(alert.annotations).toMatchObject({ evidence: 'API error ratio: 25.0% vs 2.5%', dashboard_url: 'https://grafana.example.com/d/cc-system-health/system-health?viewPanel=panel-107' });
    expect(alert.generatorURL).toBe('https://github.com/o/r/actions/runs/1');
  });

  it('DeploymentRollbackFailed: what still serves and why going back failed, firing for an hour, without the evidence', () => {
    const alert = rollbackFailedAlert({ ...facts, evidence: 'not in this alert', runUrl: 'https://github.com/o/r/actions/runs/2' }, good, 'Vercel: roll back to dpl_good failed: answered 500', now);
    expect(alert).toEqual({
      labels: { alertname: 'DeploymentRollbackFailed', severity: 'critical', environment: 'production' },
      annotations: {
        summary: 'A failed deployment could not be rolled back.',
        description: 'production still serves 1.1.0 [dpl_bad] (smoke tests failed); rolling back to 1.0.0 (a1b2c3d) [dpl_good] failed: Vercel: roll back to dpl_good failed: answered 500.',
        runbook_url: 'https://github.com/camerons-connect/connect-observability/blob/main/docs/runbooks.md#deploymentrollbackfailed',
        dashboard_url: 'http://localhost:3000/d/cc-system-health/system-health?viewPanel=panel-107',
      },
      startsAt: '2026-01-02T10:05:00.000Z',
      endsAt: '2026-01-02T11:05:00.000Z',
      generatorURL: 'https://github.com/o/r/actions/runs/2',
    });
    expect(rollbackFailedAlert(facts, undefined, 'no successful deployment of production before dpl_bad to roll back to', now).annotations.description)
      .toBe('production still serves 1.1.0 [dpl_bad] (smoke tests failed); rolling back failed: no successful deployment of production before dpl_bad to roll back to.');
  });
});

describe('exit codes of cc-ops rollback', () => {
  it('0 rolled back (or nothing to do), 1 not rolled back, 2 refused, 3 rolled back with warnings', () => {
    expect(exitCode({ outcome: 'rolled_back', failedId: 'dpl_bad', target: good, warnings: [] })).toBe(0);
    expect(exitCode({ outcome: 'rolled_back', failedId: 'dpl_bad', target: good, warnings: ['Grafana was not annotated'] })).toBe(3);
    expect(exitCode({ outcome: 'already_rolled_back', failedId: 'dpl_done' })).toBe(0);
    expect(exitCode({ outcome: 'dry_run', failedId: 'dpl_bad', target: good })).toBe(0);
    expect(exitCode({ outcome: 'dry_run', failedId: 'dpl_stg', target: undefined })).toBe(1);
    expect(exitCode({ outcome: 'failed', failedId: 'dpl_bad', failure: 'Vercel refused' })).toBe(1);
    expect(exitCode({ outcome: 'nothing_to_roll_back', problem: 'deployment_log has no deployment of fresh; nothing to roll back' })).toBe(1);
    expect(exitCode({ outcome: 'refused', problem: 'dpl_stg is a deployment of staging, not production' })).toBe(2);
  });
});

// Deployments from deployment_log: the latest deployment of each environment as an info
// series, the one serving it now (after a rollback, the deployment it went back to), the last
// successful one's time, and how many deployments were rolled back.
import { Counter, Gauge } from 'prom-client';
import type { CollectorFactory } from './types.js';

export const DEPLOYMENTS_QUERY = `
SELECT environment,
       latest.version,
       latest.commit_sha,
       latest.status,
       (SELECT extract(epoch FROM max(coalesce(d.finished_at, d.deployed_at)))::double precision
          FROM public.deployment_log d
         WHERE d.environment = e.environment AND d.status = 'success') AS last_success_seconds,
       (SELECT count(*)::integer
          FROM public.deployment_log d
         WHERE d.environment = e.environment AND d.status = 'rolled_back') AS rollbacks,
       serving.version AS serving_version,
       serving.commit_sha AS serving_commit_sha,
       serving.deployment_id AS serving_deployment_id
  FROM (SELECT DISTINCT environment FROM public.deployment_log) e
 CROSS JOIN LATERAL (
       SELECT d.version, d.commit_sha, d.status
         FROM public.deployment_log d
        WHERE d.environment = e.environment
        ORDER BY d.deployed_at DESC, d.id DESC
        LIMIT 1) latest
  -- What serves now: the newest deployment that served (success, or rolled back since); when
  -- that one was rolled back, the deployment it went back to. A candidate that failed before
  -- promotion (failed) or is still deploying never served.
  LEFT JOIN LATERAL (
       SELECT coalesce(t.version, d.version) AS version,
              coalesce(t.commit_sha, d.commit_sha) AS commit_sha,
              coalesce(t.deployment_id, d.deployment_id) AS deployment_id
         FROM public.deployment_log d
         LEFT JOIN public.deployment_log t ON d.status = 'rolled_back' AND t.id = d.rollback_target_id
        WHERE d.environment = e.environment AND d.status IN ('success', 'rolled_back')
        ORDER BY d.deployed_at DESC, d.id DESC
        LIMIT 1) serving ON true`;

interface DeploymentRow {
  environment: string;
  version: string | null;
  commit_sha: string | null;
  status: string;
  last_success_seconds: number | null;
  rollbacks: number;
  serving_version: string | null;
  serving_commit_sha: string | null;
  serving_deployment_id: string | null;
}

export const createDeploymentsCollector: CollectorFactory = (registry) => {
  const info = new Gauge({
    name: 'cc_deployment_info',
    help: 'The latest deployment of each environment; always 1.',
    labelNames: ['environment', 'version', 'commit_sha', 'status'],
    registers: [registry],
  });
  const serving = new Gauge({
    name: 'cc_deployment_serving_info',
    help: 'The deployment serving each environment now (after a rollback, the one it went back to); always 1.',
    labelNames: ['environment', 'version', 'commit_sha', 'deployment_id'],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'cc_deployment_last_success_timestamp_seconds',
    help: 'When the last successful deployment of the environment finished, in Unix seconds.',
    labelNames: ['environment'],
    registers: [registry],
  });
  // A count of rolled-back rows in deployment_log: it only grows while the log is kept.
  const rollbacks = new Counter({
    name: 'cc_deployment_rollbacks_total',
    help: 'Deployments of the environment that were rolled back.',
    labelNames: ['environment'],
    registers: [registry],
  });

  return {
    name: 'deployments',
    async collect(db) {
      const { rows } = await db.query<DeploymentRow>(DEPLOYMENTS_QUERY);
      this.clear();
      for (const row of rows) {
        const environment = row.environment;
        info.set({ environment, version: row.version ?? '', commit_sha: row.commit_sha ?? '', status: row.status }, 1);
        if (row.serving_deployment_id !== null) {
          serving.set({ environment, version: row.serving_version ?? '', commit_sha: row.serving_commit_sha ?? '', deployment_id: row.serving_deployment_id }, 1);
        }
        if (row.last_success_seconds !== null) lastSuccess.set({ environment }, row.last_success_seconds);
        rollbacks.inc({ environment }, row.rollbacks);
      }
    },
    clear() {
      info.reset();
      serving.reset();
      lastSuccess.reset();
      rollbacks.reset();
    },
  };
};

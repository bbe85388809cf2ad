// deployment_log through the functions of sql/migrations/003_deployment_log.sql (log_deployment,
// update_deployment_status, get_last_successful_deployment, log_rollback), which also write the
// `deployment` events. Only the CLI's own bookkeeping (the Grafana annotation id, the state of a
// rollback) is merged into the row's metadata column directly.
import pg from 'pg';

export type DeploymentStatus = 'deploying' | 'success' | 'failed' | 'rolled_back';

export interface DeploymentRow {
  id: number;
  deployment_id: string;
  environment: string;
  version: string | null;
  commit_sha: string | null;
  deployed_at: Date;
  finished_at: Date | null;
  status: DeploymentStatus;
  smoke_test_passed: boolean | null;
  rollback_target_id: number | null;
  metadata: Record<string, unknown>;
}

/** A client for one command: short timeouts, named in pg_stat_activity. */
export async function connectDeploymentLog(connectionString: string, timeoutMs = 10_000): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString,
    application_name: 'cc-ops',
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    lock_timeout: Math.min(timeoutMs, 5000),
  });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

const COLUMNS = `id::integer, deployment_id, environment, version, commit_sha, deployed_at, finished_at, status,
  smoke_test_passed, rollback_target_id::integer, metadata`;

export interface NewDeployment {
  deploymentId: string;
  environment: string;
  version: string | undefined;
  commitSha: string | undefined;
  deployedBy: string | undefined;
  metadata: Record<string, unknown>;
}

export async function logDeployment(db: pg.ClientBase, d: NewDeployment): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    'SELECT public.log_deployment($1, $2, $3, $4, $5, $6::jsonb)::integer AS id',
    [d.deploymentId, d.environment, d.version ?? null, d.commitSha ?? null, d.deployedBy ?? null, JSON.stringify(d.metadata)],
  );
  return rows[0]!.id;
}

export async function getDeployment(db: pg.ClientBase, deploymentId: string): Promise<DeploymentRow | undefined> {
  const { rows } = await db.query<DeploymentRow>(`SELECT ${COLUMNS} FROM public.deployment_log WHERE deployment_id = $1`, [deploymentId]);
  return rows[0];
}

/** Merges keys into the row's metadata (one level deep: a key's value is replaced whole). */
export async function mergeMetadata(db: pg.ClientBase, deploymentId: string, patch: Record<string, unknown>): Promise<void> {
  const { rowCount } = await db.query(
    'UPDATE public.deployment_log SET metadata = metadata || $2::jsonb WHERE deployment_id = $1',
    [deploymentId, JSON.stringify(patch)],
  );
  if (rowCount === 0) throw new Error(`no deployment with deployment_id ${deploymentId}`);
}

export async function updateDeploymentStatus(
  db: pg.ClientBase,
  deploymentId: string,
  status: DeploymentStatus,
  smokeTestPassed: boolean | undefined,
  smokeTestResults: unknown,
): Promise<void> {
  await db.query('SELECT public.update_deployment_status($1, $2, $3, $4::jsonb)', [
    deploymentId, status, smokeTestPassed ?? null, smokeTestResults === undefined ? null : JSON.stringify(smokeTestResults),
  ]);
}

export async function lastSuccessfulDeployment(db: pg.ClientBase, environment: string, excludeDeploymentId: string): Promise<DeploymentRow | undefined> {
  const { rows } = await db.query<DeploymentRow>(
    `SELECT ${COLUMNS} FROM public.get_last_successful_deployment($1, $2)`,
    [environment, excludeDeploymentId],
  );
  return rows[0];
}

export async function logRollback(db: pg.ClientBase, failedDeploymentId: string, targetDeploymentId: string): Promise<void> {
  await db.query('SELECT public.log_rollback($1, $2)', [failedDeploymentId, targetDeploymentId]);
}

/** Runs fn in one transaction. */
export async function inTransaction<T>(db: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    const result = await fn();
    await db.query('COMMIT');
    return result;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** "1.4.2 (abc1234)" or whatever of the two is known. */
export function describeVersion(row: Pick<DeploymentRow, 'version' | 'commit_sha' | 'deployment_id'>): string {
  const commit = row.commit_sha ? row.commit_sha.slice(0, 7) : undefined;
  if (row.version && commit) return `${row.version} (${commit})`;
  return row.version ?? commit ?? row.deployment_id;
}

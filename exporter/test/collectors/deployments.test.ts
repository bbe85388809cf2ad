import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase, describeEachBackend, type TestDatabase } from '../support/databases.js';
import { samples } from '../support/metrics.js';
import { createDeploymentsCollector } from '../../src/collectors/deployments.js';

describeEachBackend('deployments collector', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    client = await connect(db);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  it('exports nothing for an empty deployment log', async () => {
    const registry = new Registry();
    await createDeploymentsCollector(registry).collect(client);
    expect(await samples(registry, 'cc_deployment_info')).toEqual({});
    expect(await samples(registry, 'cc_deployment_rollbacks_total')).toEqual({});
  });

  it('follows the deployment functions: latest per environment, last success, rollbacks', async () => {
    await client.query(`SELECT log_deployment('d1', 'production', '1.0.0', 'aaa111')`);
    await client.query(`SELECT update_deployment_status('d1', 'success', true)`);
    const { rows } = await client.query<{ t: number }>(
      `SELECT extract(epoch FROM finished_at)::float8 AS t FROM deployment_log WHERE deployment_id = 'd1'`,
    );
    const d1FinishedAt = rows[0]!.t;
    await client.query(`SELECT log_deployment('d2', 'production', '1.1.0', 'bbb222')`);
    await client.query(`SELECT update_deployment_status('d2', 'failed', false, '{"menu": 500}')`);
    await client.query(`SELECT log_rollback('d2', 'd1')`);
    await client.query(`SELECT log_deployment('s1', 'staging', '1.2.0-rc.1', NULL)`);

    const registry = new Registry();
    await createDeploymentsCollector(registry).collect(client);

    expect(await samples(registry, 'cc_deployment_info')).toEqual({
      'environment=production,version=1.1.0,commit_sha=bbb222,status=rolled_back': 1,
      'environment=staging,version=1.2.0-rc.1,commit_sha=,status=deploying': 1,
    });
    // What serves production is d1 again (rolled back to); staging's candidate never served.
    expect(await samples(registry, 'cc_deployment_serving_info')).toEqual({
      'environment=production,version=1.0.0,commit_sha=aaa111,deployment_id=d1': 1,
    });
    expect(await samples(registry, 'cc_deployment_last_success_timestamp_seconds')).toEqual({
      'environment=production': d1FinishedAt,
    });
    expect(await samples(registry, 'cc_deployment_rollbacks_total')).toEqual({
      'environment=production': 1,
      'environment=staging': 0,
    });

    const target = await client.query(`SELECT deployment_id FROM get_last_successful_deployment('production', 'd2')`);
    expect(target.rows).toEqual([{ deployment_id: 'd1' }]);
    const events = await client.query(
      `SELECT event_data ->> 'action' AS action, event_data ->> 'deployment_id' AS id FROM runtime_metrics
        WHERE event_type = 'deployment' ORDER BY id`,
    );
    expect(events.rows).toEqual([
      { action: 'started', id: 'd1' },
      { action: 'status', id: 'd1' },
      { action: 'started', id: 'd2' },
      { action: 'status', id: 'd2' },
      { action: 'rollback', id: 'd2' },
      { action: 'started', id: 's1' },
    ]);
  });

  it('never records a failed smoke test as success, and rolls back only to a deployment that passed its smoke test', async () => {
    await client.query(`SELECT log_deployment('v1', 'canary', '1.0.0')`);
    await client.query(`SELECT update_deployment_status('v1', 'success', true)`);
    await client.query(`SELECT log_deployment('v2', 'canary', '2.0.0')`);
    await expect(client.query(`SELECT update_deployment_status('v2', 'success', false)`)).rejects.toThrow(/failed its smoke tests: it cannot be recorded as success/);
    await client.query(`SELECT update_deployment_status('v2', 'failed', false)`);
    await expect(client.query(`SELECT update_deployment_status('v2', 'success')`)).rejects.toThrow(/failed its smoke tests/);
    await expect(client.query(`UPDATE deployment_log SET status = 'success' WHERE deployment_id = 'v2'`)).rejects.toThrow(/deployment_log_success_verified/);
    // a success without any smoke result (recorded by hand) is not a rollback target either
    await client.query(`SELECT log_deployment('v3', 'canary', '3.0.0')`);
    await client.query(`SELECT update_deployment_status('v3', 'success')`);
    await client.query(`SELECT log_deployment('v4', 'canary', '4.0.0')`);
    const target = await client.query(`SELECT deployment_id FROM get_last_successful_deployment('canary', 'v4')`);
    expect(target.rows).toEqual([{ deployment_id: 'v1' }]);
  });

  it('refuses a status change for an unknown deployment', async () => {
    await expect(client.query(`SELECT update_deployment_status('nope', 'success')`)).rejects.toThrow(
      /no deployment with deployment_id nope/,
    );
  });
});

// cc_maintenance_last_run_timestamp_seconds and _duration_seconds: from the latest
// `maintenance` event, whoever ran run_system_maintenance().
import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase, describeEachBackend, type TestDatabase } from '../support/databases.js';
import { samples } from '../support/metrics.js';
import { createMaintenanceCollector } from '../../src/collectors/maintenance.js';

describeEachBackend('maintenance collector', (kind) => {
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

  it('has no sample before the first run, then the last run and its duration', async () => {
    const registry = new Registry();
    const collector = createMaintenanceCollector(registry);
    await collector.collect(client);
    expect(await samples(registry, 'cc_maintenance_last_run_timestamp_seconds')).toEqual({});

    const { rows } = await client.query<{ summary: { duration_ms: number; skipped: boolean } }>(`SELECT run_system_maintenance() AS summary`);
    expect(rows[0]!.summary.skipped).toBe(false);
    const event = await client.query<{ t: number; data: Record<string, unknown> }>(
      `SELECT extract(epoch FROM created_at)::float8 AS t, event_data AS data FROM runtime_metrics WHERE event_type = 'maintenance'`,
    );
    expect(event.rows).toHaveLength(1);
    expect(event.rows[0]!.data).toMatchObject({ status: 'success', preparing_minutes: 45, ready_minutes: 120 });
    await collector.collect(client);
    expect(await samples(registry, 'cc_maintenance_last_run_timestamp_seconds')).toEqual({ '': event.rows[0]!.t });
    expect(await samples(registry, 'cc_maintenance_last_duration_seconds')).toEqual({ '': rows[0]!.summary.duration_ms / 1000 });

    // A run dated in the future (forged before migration 011) is not the last run.
    await client.query(`SET session_replication_role = replica`);
    try {
      await client.query(`INSERT INTO runtime_metrics (event_type, event_data, created_at) VALUES ('maintenance', '{"status": "success", "duration_ms": 1}', '2099-01-01')`);
    } finally {
      await client.query(`SET session_replication_role = origin`);
    }
    await collector.collect(client);
    expect(await samples(registry, 'cc_maintenance_last_run_timestamp_seconds')).toEqual({ '': event.rows[0]!.t });
  });
});

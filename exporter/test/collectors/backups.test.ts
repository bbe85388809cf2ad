// cc_backup_last_success_timestamp_seconds: from the latest successful `backup` event, read
// at every scrape, so a restarted exporter still shows the last backup.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackup } from '../../src/ops/backup/backup.js';
import { backends, connect, createTestDatabase, describeEachBackend, type TestDatabase } from '../support/databases.js';
import { startExporter } from '../support/exporter.js';
import { parseExposition, samples } from '../support/metrics.js';
import { createBackupsCollector } from '../../src/collectors/backups.js';

const lastBackupTime = async (client: pg.Client): Promise<number> =>
  (
    await client.query<{ t: number }>(
      `SELECT extract(epoch FROM created_at)::float8 AS t FROM runtime_metrics
        WHERE event_type = 'backup' AND event_data ->> 'status' = 'success' ORDER BY id DESC LIMIT 1`,
    )
  ).rows[0]!.t;

describeEachBackend('backups collector', (kind) => {
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

  it('has no sample before any successful backup (failed ones do not count)', async () => {
    await client.query(`INSERT INTO runtime_metrics (event_type, event_data) VALUES ('backup', '{"status": "failed", "tables": 0, "rows": 0, "duration_ms": 5, "name": "x"}')`);
    const registry = new Registry();
    await createBackupsCollector(registry).collect(client);
    expect(await samples(registry, 'cc_backup_last_success_timestamp_seconds')).toEqual({});
  });

  it('shows when the last successful backup finished, after a real backup', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cc-backups-collector-'));
    const before = Date.now() / 1000;
    await createBackup(client, { root, name: 'b1' });
    const registry = new Registry();
    const collector = createBackupsCollector(registry);
    await collector.collect(client);
    const value = (await samples(registry, 'cc_backup_last_success_timestamp_seconds'))[''];
    expect(value).toBe(await lastBackupTime(client));
    expect(value).toBeGreaterThanOrEqual(before - 1);

    // A later failure leaves the last success where it was.
    await client.query(`INSERT INTO runtime_metrics (event_type, event_data) VALUES ('backup', '{"status": "failed", "tables": 3, "rows": 9, "duration_ms": 5, "name": "b2"}')`);
    await collector.collect(client);
    expect((await samples(registry, 'cc_backup_last_success_timestamp_seconds'))['']).toBe(value);
    collector.clear();
    expect(await samples(registry, 'cc_backup_last_success_timestamp_seconds')).toEqual({});
  });

  it('ignores a success dated in the future, which would hide a missing backup until then', async () => {
    const registry = new Registry();
    const collector = createBackupsCollector(registry);
    await collector.collect(client);
    const before = await samples(registry, 'cc_backup_last_success_timestamp_seconds');
    await client.query(`SET session_replication_role = replica`); // as before migration 011
    try {
      await client.query(`INSERT INTO runtime_metrics (event_type, event_data, created_at) VALUES ('backup', '{"status": "success", "name": "forged"}', '2099-01-01')`);
    } finally {
      await client.query(`SET session_replication_role = origin`);
    }
    await collector.collect(client);
    expect(await samples(registry, 'cc_backup_last_success_timestamp_seconds')).toEqual(before);
    // and written today, the same row is dated now by the database
    await client.query(`INSERT INTO runtime_metrics (event_type, event_data, created_at) VALUES ('backup', '{"status": "success", "name": "forged"}', '2099-01-01')`);
    await collector.collect(client);
    const now = (await samples(registry, 'cc_backup_last_success_timestamp_seconds'))['']!;
    expect(Math.abs(now - Date.now() / 1000)).toBeLessThan(600);
  });
});

const server = backends.find((b) => b.kind === 'postgres')!;
describe.skipIf(server.skip !== undefined)(`backup metric through the exporter [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  it('is exposed after a backup, and still after the exporter restarts', async () => {
    const db = await createTestDatabase('postgres');
    const client = await connect(db);
    try {
      const first = await startExporter(db.connectionString);
      expect(parseExposition((await first.get('/metrics')).body).has('cc_backup_last_success_timestamp_seconds')).toBe(false);
      await createBackup(client, { root: await mkdtemp(join(tmpdir(), 'cc-backups-exporter-')), name: 'nightly' });
      const scraped = parseExposition((await first.get('/metrics')).body);
      expect(scraped.get('cc_backup_last_success_timestamp_seconds')).toBe(await lastBackupTime(client));
      expect(scraped.get('cc_collector_success{collector="backups"}')).toBe(1);
      await first.stop();

      const second = await startExporter(db.connectionString);
      expect(parseExposition((await second.get('/metrics')).body).get('cc_backup_last_success_timestamp_seconds')).toBe(await lastBackupTime(client));
      await second.stop();
    } finally {
      await client.end();
      await db.stop();
    }
  });
});

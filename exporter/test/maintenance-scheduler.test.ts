// The maintenance scheduler: several exporters running it at once heal every stuck order
// exactly once (one run acts, the others find the advisory lock taken); thresholds come from
// config; the migration does nothing about pg_cron where it is absent; the timer runs it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db.js';
import { createMaintenanceScheduler, type MaintenanceRun } from '../src/maintenance-scheduler.js';
import { sqlPaths } from '../src/paths.js';
import { backends, connect, createTestDatabase, describeEachBackend, silentLogger, type TestDatabase } from './support/databases.js';
import { startExporter, type RunningExporter } from './support/exporter.js';
import { parseExposition, samples } from './support/metrics.js';

const STUCK_PREPARING = 2500;
const STUCK_READY = 2500;
const FRESH = 300;

/** Stuck orders (preparing 60 min, ready 3 h) and fresh ones that must be left alone. */
async function insertOrders(client: pg.Client): Promise<void> {
  await client.query(`INSERT INTO stores (slug, name) VALUES ('downtown', 'Downtown'), ('harbor', 'Harbor') ON CONFLICT DO NOTHING`);
  await client.query(
    `INSERT INTO orders (store_id, customer_name, status, total, created_at, updated_at)
     SELECT (SELECT id FROM stores ORDER BY slug LIMIT 1 OFFSET i % 2), kind || ' ' || status || ' ' || i, status, 10,
            now() - age - interval '10 minutes', now() - age
       FROM (SELECT i, 'stuck' AS kind, 'preparing' AS status, interval '60 minutes' AS age FROM generate_series(1, $1::int) i
             UNION ALL SELECT i, 'stuck', 'ready', interval '3 hours' FROM generate_series(1, $2::int) i
             UNION ALL SELECT i, 'fresh', 'preparing', interval '10 minutes' FROM generate_series(1, $3::int) i
             UNION ALL SELECT i, 'fresh', 'ready', interval '30 minutes' FROM generate_series(1, $3::int) i) o`,
    [STUCK_PREPARING, STUCK_READY, FRESH],
  );
}

const server = backends.find((b) => b.kind === 'postgres')!;

describe.skipIf(server.skip !== undefined)(`maintenance scheduler, several exporters [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let client: pg.Client;
  let exporters: RunningExporter[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    client = await connect(db);
    await insertOrders(client);
    const env = { MAINTENANCE_SCHEDULER: 'on', COLLECTORS: 'maintenance' };
    exporters = [await startExporter(db.connectionString, env), await startExporter(db.connectionString, env)];
  });
  afterAll(async () => {
    for (const e of exporters) await e.stop();
    await client?.end();
    await db?.stop();
  });

  it('heals each stuck order exactly once when two exporters run maintenance at the same time, again and again', async () => {
    const results: MaintenanceRun[] = [];
    for (let round = 0; round < 4; round++) {
      // Two runs per exporter per round, all started together (each exporter's pool has 3 connections).
      results.push(...(await Promise.all(exporters.flatMap((e) => [e.maintenance.runOnce(), e.maintenance.runOnce()]))));
    }
    const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
    expect(results.map((r) => r.error).filter(Boolean)).toEqual([]);
    expect(count('success') + count('skipped')).toBe(16);
    // The lock at work: runs that started together found it taken.
    expect(count('skipped')).toBeGreaterThanOrEqual(1);

    const heals = await client.query<{ action: string; orders: string; rows: string }>(
      `SELECT event_data ->> 'action' AS action, count(DISTINCT event_data -> 'details' ->> 'order_id') AS orders, count(*) AS rows
         FROM runtime_metrics WHERE event_type = 'auto_heal' GROUP BY 1 ORDER BY 1`,
    );
    expect(heals.rows).toEqual([
      { action: 'preparing_to_ready', orders: String(STUCK_PREPARING), rows: String(STUCK_PREPARING) },
      { action: 'ready_to_completed', orders: String(STUCK_READY), rows: String(STUCK_READY) },
    ]);
    const statuses = await client.query<{ name: string; status: string; n: string }>(
      `SELECT split_part(customer_name, ' ', 1) || ' ' || split_part(customer_name, ' ', 2) AS name, status, count(*) AS n
         FROM orders WHERE customer_name LIKE 'stuck%' GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(statuses.rows).toEqual([
      { name: 'stuck preparing', status: 'ready', n: String(STUCK_PREPARING) },
      { name: 'stuck ready', status: 'completed', n: String(STUCK_READY) },
    ]);
    const fresh = await client.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM orders WHERE customer_name NOT LIKE 'stuck%' GROUP BY 1 ORDER BY 1`,
    );
    expect(fresh.rows).toEqual([
      { status: 'preparing', n: String(FRESH) },
      { status: 'ready', n: String(FRESH) },
    ]);

    // One maintenance event per run that acted; the metrics say the same.
    const ran = await client.query<{ n: string }>(`SELECT count(*) AS n FROM runtime_metrics WHERE event_type = 'maintenance'`);
    expect(Number(ran.rows[0]!.n)).toBe(count('success'));
    let successes = 0;
    let skipped = 0;
    for (const e of exporters) {
      const scrape = parseExposition((await e.get('/metrics')).body);
      successes += scrape.get('cc_maintenance_runs_total{outcome="success"}') ?? NaN;
      skipped += scrape.get('cc_maintenance_runs_total{outcome="skipped"}') ?? NaN;
      expect(scrape.get('cc_maintenance_runs_total{outcome="failed"}')).toBe(0);
      expect(scrape.get('cc_maintenance_last_run_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 120);
    }
    expect({ successes, skipped }).toEqual({ successes: count('success'), skipped: count('skipped') });
  });

  it('takes the auto-heal thresholds from config', async () => {
    await client.query(`TRUNCATE orders CASCADE`);
    await insertOrders(client);
    const strict = await startExporter(db.connectionString, { MAINTENANCE_SCHEDULER: 'on', AUTO_HEAL_THRESHOLDS: 'preparing=5m,ready=20m' });
    try {
      const run = await strict.maintenance.runOnce();
      expect(run.outcome).toBe('success');
      // Every order was past the stricter thresholds: ready ones completed, preparing ones promoted.
      expect(run.summary).toMatchObject({ auto_heal: { preparing_to_ready: STUCK_PREPARING + FRESH, ready_to_completed: STUCK_READY + FRESH } });
    } finally {
      await strict.stop();
    }
  });

  it('stands by in auto mode only when pg_cron runs the job; the migration schedules nothing without pg_cron', async () => {
    const { rows } = await client.query(`SELECT observability.maintenance_scheduled_by_pg_cron() AS cron, observability.schedule_maintenance() AS said`);
    expect(rows[0]).toEqual({ cron: false, said: "pg_cron is not installed: the exporter's scheduler runs maintenance" });
    const auto = await startExporter(db.connectionString, { MAINTENANCE_SCHEDULER: 'auto' });
    try {
      expect((await auto.maintenance.runOnce()).outcome).toBe('success');
    } finally {
      await auto.stop();
    }
    // The migration is idempotent: applied again, it leaves exactly one run_system_maintenance.
    await client.query(await readFile(join(sqlPaths.migrations, '007_maintenance_schedule.sql'), 'utf8'));
    const fns = await client.query(`SELECT pg_get_function_identity_arguments(oid) AS args FROM pg_proc WHERE proname = 'run_system_maintenance'`);
    expect(fns.rows).toEqual([{ args: 'p_preparing_minutes integer, p_ready_minutes integer, p_retention_days integer' }]);
  });
});

describeEachBackend('maintenance scheduler timer', (kind) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('runs on its interval on one pooled connection, never overlapping, and stops', async () => {
    const config = loadConfig({ MAINTENANCE_SCHEDULER: 'on' });
    const pool = createPool(db.connectionString, { ...config.db, poolMax: 1 }, silentLogger);
    const registry = new Registry();
    const scheduler = createMaintenanceScheduler({ pool, registry, options: { ...config.maintenance, intervalSeconds: 0.2 }, logger: silentLogger });
    try {
      scheduler.start();
      const deadline = Date.now() + 20_000;
      while (((await samples(registry, 'cc_maintenance_runs_total'))['outcome=success'] ?? 0) < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await scheduler.stop();
      const counts = await samples(registry, 'cc_maintenance_runs_total');
      expect(counts['outcome=success']).toBeGreaterThanOrEqual(3);
      expect(counts['outcome=failed']).toBe(0);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM runtime_metrics WHERE event_type = 'maintenance'`);
      expect(Number(rows[0]!.n)).toBe(counts['outcome=success']);
      // Stopped means stopped.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await samples(registry, 'cc_maintenance_runs_total'))['outcome=success']).toBe(counts['outcome=success']);
    } finally {
      await scheduler.stop();
      await pool.end();
    }
  });

  it('registers no series when off', () => {
    const config = loadConfig({ MAINTENANCE_SCHEDULER: 'off' });
    const registry = new Registry();
    const pool = createPool(db.connectionString, config.db, silentLogger);
    createMaintenanceScheduler({ pool, registry, options: config.maintenance, logger: silentLogger }).start();
    expect(registry.getSingleMetric('cc_maintenance_runs_total')).toBeUndefined();
    return pool.end();
  });
});

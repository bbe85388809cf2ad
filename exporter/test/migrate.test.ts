import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { excerptAt, migrate, SqlApplyError } from '../src/migrate.js';
import { sqlPaths } from '../src/paths.js';
import { connect, createTestDatabase, describeEachBackend, silentLogger, type TestDatabase } from './support/databases.js';

const migrationFiles = readdirSync(sqlPaths.migrations).filter((f) => f.endsWith('.sql')).sort();

describeEachBackend('migrations', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(kind); // app schema + migrations once
    client = await connect(db);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  it('records what ran, and a second run applies nothing', async () => {
    const { rows } = await client.query<{ name: string }>('SELECT name FROM observability.schema_migrations ORDER BY id');
    expect(rows.map((r) => `${r.name}.sql`)).toEqual(migrationFiles);
    expect(await migrate(client, { logger: silentLogger })).toEqual([]);
  });

  it('every migration file can be applied again as plain SQL (idempotent)', async () => {
    for (let round = 0; round < 2; round++) {
      for (const file of migrationFiles) {
        await client.query(readFileSync(join(sqlPaths.migrations, file), 'utf8'));
      }
    }
  });

  it('lets browsers append events, and nothing else', async () => {
    await client.query('BEGIN');
    try {
      await client.query('SET LOCAL ROLE anon');
      await client.query(`INSERT INTO runtime_metrics (session_id, event_type, event_data) VALUES ('s', 'page_view', '{"page": "/menu"}')`);
      await expect(client.query('SAVEPOINT a; SELECT * FROM runtime_metrics')).rejects.toThrow(/permission denied/);
      await client.query('ROLLBACK TO SAVEPOINT a');
      await expect(client.query(`INSERT INTO runtime_metrics (event_type, tx) VALUES ('x', '1')`)).rejects.toThrow(/permission denied/);
      await client.query('ROLLBACK TO SAVEPOINT a');
      await expect(client.query('SELECT * FROM get_recent_errors()')).rejects.toThrow(/permission denied/);
      await client.query('ROLLBACK TO SAVEPOINT a');
      await expect(client.query('SELECT * FROM orders')).rejects.toThrow(/permission denied/);
      await client.query('ROLLBACK TO SAVEPOINT a');
      await expect(client.query(`SELECT log_deployment('x')`)).rejects.toThrow(/permission denied/);
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('gives the exporter and Grafana roles what they read, and Grafana no writes', async () => {
    const { rows } = await client.query(`
      SELECT has_table_privilege('cc_exporter', 'observability.active_orders', 'SELECT') AS exporter_orders_view,
             has_table_privilege('cc_exporter', 'public.orders', 'SELECT') AS exporter_orders_table,
             has_table_privilege('cc_exporter', 'public.runtime_metrics', 'SELECT') AS exporter_events,
             has_table_privilege('cc_exporter', 'public.alert_history', 'INSERT') AS exporter_alert_history,
             has_table_privilege('cc_grafana', 'public.deployment_log', 'SELECT') AS grafana_deployments,
             has_table_privilege('cc_grafana', 'public.runtime_metrics', 'INSERT') AS grafana_insert,
             has_function_privilege('cc_grafana', 'public.get_api_latency_stats(integer)', 'EXECUTE') AS grafana_rpc,
             has_function_privilege('anon', 'public.get_api_latency_stats(integer)', 'EXECUTE') AS anon_rpc,
             (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'cc_exporter') AS exporter_login,
             (SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
               WHERE r.rolname = 'cc_grafana' AND s.setdatabase = 0) AS grafana_settings`);
    expect(rows[0]).toEqual({
      exporter_orders_view: true,
      exporter_orders_table: false,
      exporter_events: true,
      exporter_alert_history: true,
      grafana_deployments: true,
      grafana_insert: false,
      grafana_rpc: true,
      anon_rpc: false,
      exporter_login: true,
      grafana_settings: 'default_transaction_read_only=on',
    });
    await client.query('BEGIN');
    try {
      await client.query('SET LOCAL ROLE cc_exporter');
      await client.query('SELECT count(*) FROM observability.active_orders');
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('writes an order_event row for every new order and status change', async () => {
    const { rows: [store] } = await client.query<{ id: string }>(`INSERT INTO stores (slug, name) VALUES ('trig', 'T') RETURNING id`);
    const { rows: [order] } = await client.query<{ id: string; created_at: string }>(
      `INSERT INTO orders (store_id, total) VALUES ($1, 12.5) RETURNING id, created_at`, [store!.id]);
    await client.query(`UPDATE orders SET status = 'confirmed' WHERE id = $1`, [order!.id]);
    await client.query(`UPDATE orders SET total = 13 WHERE id = $1`, [order!.id]); // not a status change
    await client.query(`UPDATE orders SET status = 'preparing' WHERE id = $1`, [order!.id]);
    const { rows } = await client.query(
      `SELECT event_data FROM runtime_metrics WHERE event_type = 'order_event' AND event_data ->> 'order_id' = $1 ORDER BY id`,
      [order!.id],
    );
    expect(rows.map((r) => r.event_data)).toEqual([
      expect.objectContaining({ event: 'created', order_id: order!.id, store_id: store!.id, from: null, to: 'pending', total: 12.5 }),
      expect.objectContaining({ event: 'status_changed', from: 'pending', to: 'confirmed', total: 12.5 }),
      expect.objectContaining({ event: 'status_changed', from: 'confirmed', to: 'preparing', total: 13 }),
    ]);
    expect(rows[0]!.event_data).toHaveProperty('order_created_at');
  });

  it('auto-heals stuck orders, logs each correction, and runs maintenance', async () => {
    const { rows: [store] } = await client.query<{ id: string }>(`INSERT INTO stores (slug, name) VALUES ('heal', 'H') RETURNING id`);
    await client.query(
      `INSERT INTO orders (store_id, status, created_at, updated_at) VALUES
         ($1, 'preparing', now() - interval '2 hours', now() - interval '50 minutes'),
         ($1, 'preparing', now() - interval '20 minutes', now() - interval '10 minutes'),
         ($1, 'ready', now() - interval '5 hours', now() - interval '3 hours')`,
      [store!.id],
    );
    const { rows: [heal] } = await client.query(`SELECT auto_heal_stuck_orders() AS summary`);
    expect(heal!.summary).toEqual({ preparing_to_ready: 1, ready_to_completed: 1 });
    const { rows: statuses } = await client.query(
      `SELECT status, count(*)::int AS n FROM orders WHERE store_id = $1 GROUP BY 1 ORDER BY 1`, [store!.id]);
    expect(statuses).toEqual([{ status: 'completed', n: 1 }, { status: 'preparing', n: 1 }, { status: 'ready', n: 1 }]);
    const { rows: events } = await client.query(
      `SELECT event_data ->> 'action' AS action FROM runtime_metrics
        WHERE event_type = 'auto_heal' AND event_data -> 'details' ->> 'store_id' = $1 ORDER BY 1`, [store!.id]);
    expect(events).toEqual([{ action: 'preparing_to_ready' }, { action: 'ready_to_completed' }]);

    const { rows: [maintenance] } = await client.query(`SELECT run_system_maintenance() AS summary`);
    expect(maintenance!.summary).toMatchObject({
      auto_heal: { preparing_to_ready: 0, ready_to_completed: 0 },
      order_health_refreshed: true,
      metrics_deleted: 0,
    });
    const { rows: [health] } = await client.query(`SELECT get_order_health_summary($1) AS s`, [store!.id]);
    expect(health!.s).toMatchObject({ total_orders: 3, completed_orders: 1, active_orders: 2 });
  });

  it('serves the reporting RPCs over runtime_metrics', async () => {
    await client.query(`
      INSERT INTO runtime_metrics (event_type, event_data) VALUES
        ('api_latency', '{"endpoint": "orders.select", "latency_ms": 100, "status": 200}'),
        ('api_latency', '{"endpoint": "orders.select", "latency_ms": 300, "status": 503}'),
        ('api_latency', '{"endpoint": "orders.select", "latency_ms": 200, "status": 0}'),
        ('error', '{"error_type": "fetch_error", "message": "Network timeout", "url": "/menu"}')`);
    const { rows: stats } = await client.query(`SELECT * FROM get_api_latency_stats(1) WHERE endpoint = 'orders.select'`);
    expect(stats[0]).toMatchObject({ request_count: '3', error_count: '2', avg_ms: 200, p50_ms: 200 });
    const { rows: errors } = await client.query(`SELECT error_type, message FROM get_recent_errors(10, 1)`);
    expect(errors[0]).toEqual({ error_type: 'fetch_error', message: 'Network timeout' });
    const { rows: rate } = await client.query(`SELECT sum(total_requests)::int AS t, sum(error_requests)::int AS e FROM get_error_rate_timeseries(1, 5)`);
    expect(rate[0]).toEqual({ t: 3, e: 2 });
    const { rows: [summary] } = await client.query(`SELECT get_metrics_summary(1) AS s`);
    expect(summary!.s.events_by_type).toMatchObject({ api_latency: 3, error: 1 });
  });
});

describeEachBackend('migration errors', (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(kind, { app: false, migrations: false });
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('names the file and marks the failing line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-migrations-'));
    writeFileSync(join(dir, '001_ok.sql'), 'CREATE TABLE IF NOT EXISTS fine (id int);\n');
    writeFileSync(join(dir, '002_broken.sql'), 'CREATE TABLE IF NOT EXISTS also_fine (id int);\n\nSELECT * FROM\n  no_such_table;\n');
    const client = await connect(db);
    try {
      const error = await migrate(client, { logger: silentLogger, dir }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(SqlApplyError);
      const e = error as SqlApplyError;
      expect(e.file).toBe(join(dir, '002_broken.sql'));
      expect(e.message).toMatch(/relation "no_such_table" does not exist/);
      expect(e.excerpt).toContain('>    4 |   no_such_table;');
      // The good migration stays applied; the broken one left nothing behind.
      const { rows } = await client.query(`SELECT name FROM observability.schema_migrations`);
      expect(rows).toEqual([{ name: '001_ok' }]);
      const { rows: tables } = await client.query(`SELECT to_regclass('also_fine') AS t`);
      expect(tables).toEqual([{ t: null }]);
    } finally {
      await client.end();
    }
  });

  it('refuses to run without the app tables, saying what to do', async () => {
    const bare = await createTestDatabase(kind, { app: false, migrations: false });
    const client = await connect(bare);
    try {
      await expect(migrate(client, { logger: silentLogger })).rejects.toThrow(
        /005_order_observability\.sql: Connect Observability reads the app tables public\.orders and public\.stores/,
      );
    } finally {
      await client.end();
      await bare.stop();
    }
  });
});

it('excerptAt marks the line of a character position', () => {
  expect(excerptAt('a\nb\nc\nd\ne\nf', '5')).toBe('     1 | a\n     2 | b\n>    3 | c\n     4 | d\n     5 | e');
  expect(excerptAt('a', undefined)).toBe('');
});

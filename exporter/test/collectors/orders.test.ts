import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { connect, createTestDatabase, describeEachBackend, type TestDatabase } from '../support/databases.js';
import { samples } from '../support/metrics.js';
import { loadConfig } from '../../src/config.js';
import { createOrdersCollector } from '../../src/collectors/orders.js';

describeEachBackend('orders collector', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    client = await connect(db);
    await client.query(`INSERT INTO stores (slug, name) VALUES ('north', 'North'), ('south', 'South')`);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });
  beforeEach(async () => {
    await client.query('DELETE FROM orders');
  });

  // Insert an order created `ageMin` minutes ago that entered its status `inStatusMin` ago.
  const order = (store: string, status: string, ageMin: number, inStatusMin: number) =>
    client.query(
      `INSERT INTO orders (store_id, status, total, created_at, updated_at)
       SELECT id, $2, 10, now() - make_interval(mins => $3), now() - make_interval(mins => $4)
         FROM stores WHERE slug = $1`,
      [store, status, ageMin, inStatusMin],
    );

  it('counts active and stuck orders and the oldest age, by store and status', async () => {
    await order('north', 'preparing', 50, 31); // stuck: preparing > 30 min
    await order('north', 'preparing', 20, 10);
    await order('north', 'ready', 90, 61); // stuck: ready > 60 min
    await order('north', 'ready', 70, 59);
    await order('south', 'pending', 5, 5); // no threshold for pending
    await order('south', 'completed', 300, 200); // terminal: not counted
    await order('south', 'cancelled', 300, 299);

    const registry = new Registry();
    const collector = createOrdersCollector(registry, { stuckThresholds: { preparing: 1800, ready: 3600 } });
    await collector.collect(client);

    expect(await samples(registry, 'cc_orders_active')).toEqual({
      'store=north,status=preparing': 2,
      'store=north,status=ready': 2,
      'store=south,status=pending': 1,
    });
    expect(await samples(registry, 'cc_orders_stuck')).toEqual({
      'store=north,status=preparing': 1,
      'store=north,status=ready': 1,
      'store=south,status=pending': 0,
    });
    const oldest = await samples(registry, 'cc_orders_oldest_active_age_seconds');
    expect(Object.keys(oldest).sort()).toEqual(['store=north,status=preparing', 'store=north,status=ready', 'store=south,status=pending']);
    expect(oldest['store=north,status=preparing']).toBeGreaterThanOrEqual(50 * 60);
    expect(oldest['store=north,status=preparing']).toBeLessThan(50 * 60 + 30);
    expect(oldest['store=north,status=ready']).toBeGreaterThanOrEqual(90 * 60);
    expect(oldest['store=north,status=ready']).toBeLessThan(90 * 60 + 30);
  });

  it('drops label sets that no longer exist and follows status changes', async () => {
    await order('north', 'preparing', 50, 40);
    const registry = new Registry();
    const collector = createOrdersCollector(registry, { stuckThresholds: { preparing: 1800 } });
    await collector.collect(client);
    expect(await samples(registry, 'cc_orders_stuck')).toEqual({ 'store=north,status=preparing': 1 });

    await client.query(`UPDATE orders SET status = 'ready'`);
    await collector.collect(client);
    expect(await samples(registry, 'cc_orders_active')).toEqual({ 'store=north,status=ready': 1 });
    expect(await samples(registry, 'cc_orders_stuck')).toEqual({ 'store=north,status=ready': 0 });

    await client.query(`UPDATE orders SET status = 'completed'`);
    await collector.collect(client);
    expect(await samples(registry, 'cc_orders_active')).toEqual({});
    expect(await samples(registry, 'cc_orders_oldest_active_age_seconds')).toEqual({});
  });

  it('honours configured thresholds', async () => {
    await order('south', 'confirmed', 12, 11);
    const registry = new Registry();
    const collector = createOrdersCollector(registry, { stuckThresholds: { confirmed: 600 } });
    await collector.collect(client);
    expect(await samples(registry, 'cc_orders_stuck')).toEqual({ 'store=south,status=confirmed': 1 });
  });

  it('by default, counts an order of any active status untouched for 45 minutes (the old rule), from its own updated_at', async () => {
    for (const status of ['pending', 'confirmed', 'preparing', 'ready']) {
      await order('north', status, 60, 46); // a tablet offline, a kitchen that forgot: all stuck
      await order('south', status, 60, 44); // not yet
    }
    const registry = new Registry();
    const collector = createOrdersCollector(registry, { stuckThresholds: loadConfig({}).orders.stuckThresholds });
    await collector.collect(client);
    expect(await samples(registry, 'cc_orders_stuck')).toEqual({
      'store=north,status=pending': 1, 'store=north,status=confirmed': 1, 'store=north,status=preparing': 1, 'store=north,status=ready': 1,
      'store=south,status=pending': 0, 'store=south,status=confirmed': 0, 'store=south,status=preparing': 0, 'store=south,status=ready': 0,
    });
  });

  it('reads only active orders through the partial index', async () => {
    const { rows } = await client.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE indexname = 'orders_active_status_idx'`,
    );
    expect(rows[0]?.indexdef).toMatch(/WHERE \(status = ANY/);
  });
});

// Live order state from observability.active_orders: how many orders are active, how many are
// stuck and how old the oldest is, by store and status. The view reads only non-terminal
// orders through a partial index, so the cost follows the active orders, not the table.
import { Gauge } from 'prom-client';
import type { CollectorFactory } from './types.js';

export interface OrdersOptions {
  /** status -> seconds in that status after which an order is stuck */
  stuckThresholds: Record<string, number>;
}

export const ORDERS_QUERY = `
SELECT store,
       status,
       count(*)::integer AS active,
       count(*) FILTER (
         WHERE status_since < now() - make_interval(secs => ($1::jsonb ->> status)::double precision)
       )::integer AS stuck,
       extract(epoch FROM now() - min(created_at))::double precision AS oldest_age_seconds
  FROM observability.active_orders
 GROUP BY store, status`;

interface OrdersRow {
  store: string | null;
  status: string;
  active: number;
  stuck: number;
  oldest_age_seconds: number | null;
}

export const createOrdersCollector: CollectorFactory<OrdersOptions> = (registry, { stuckThresholds }) => {
  const labelNames = ['store', 'status'] as const;
  const active = new Gauge({
    name: 'cc_orders_active',
    help: 'Orders in a non-terminal status.',
    labelNames,
    registers: [registry],
  });
  const stuck = new Gauge({
    name: 'cc_orders_stuck',
    help: 'Active orders that have been in their status longer than its stuck threshold.',
    labelNames,
    registers: [registry],
  });
  const oldestAge = new Gauge({
    name: 'cc_orders_oldest_active_age_seconds',
    help: 'Age of the oldest active order, from its creation.',
    labelNames,
    registers: [registry],
  });
  const thresholds = JSON.stringify(stuckThresholds);

  return {
    name: 'orders',
    async collect(db) {
      const { rows } = await db.query<OrdersRow>(ORDERS_QUERY, [thresholds]);
      this.clear();
      for (const row of rows) {
        const labels = { store: row.store ?? 'unknown', status: row.status };
        active.set(labels, row.active);
        stuck.set(labels, row.stuck);
        if (row.oldest_age_seconds !== null) oldestAge.set(labels, Math.max(0, row.oldest_age_seconds));
      }
    },
    clear() {
      active.reset();
      stuck.reset();
      oldestAge.reset();
    },
  };
};

// Rows for all twelve backed-up tables, generated in SQL: a few stores with menus, customers,
// staff, N orders with their items, alert rules, alert history and a deployment history that
// references itself. Text values carry what COPY must escape (tabs, newlines, backslashes,
// quotes, non-ASCII) and NULLs. Shared by the backup benchmark and the backup tests.
import type pg from 'pg';

export interface AppDataOptions {
  orders: number;
  itemsPerOrder?: number;
  /** first order number, so a second call adds different orders */
  offset?: number;
  /** also fill the small tables (stores, menus, people, alerts, deployments); once per database */
  withSmallTables?: boolean;
  /** load without triggers and foreign key checks (superuser only): no order events, faster */
  bulk?: boolean;
}

const SMALL_TABLES = `
INSERT INTO public.stores (slug, name, created_at)
SELECT 'store-' || i, E'Store\\t' || i || E' "Quoted" \\\\ back\\nslash ünïcödé', timestamptz '2025-01-01' + make_interval(days => i)
  FROM generate_series(1, 4) AS i;

INSERT INTO public.menu_categories (store_id, name, sort_order)
SELECT s.id, (ARRAY['Burgers', 'Drinks', 'Sides', E'Kids\\' menu'])[c], c
  FROM public.stores s, generate_series(1, 4) AS c;

INSERT INTO public.menu_items (store_id, category_id, name, description, price, is_available)
SELECT mc.store_id, mc.id, mc.name || ' #' || i,
       CASE WHEN i % 3 = 0 THEN NULL ELSE E'Line one\\nline two\\twith a tab' END,
       round((3 + i * 1.25)::numeric, 2), i % 7 <> 0
  FROM public.menu_categories mc, generate_series(1, 5) AS i;

INSERT INTO public.menu_item_customizations (menu_item_id, name, options, price_delta, is_required)
SELECT mi.id, (ARRAY['Size', 'Extras'])[k],
       jsonb_build_array(jsonb_build_object('label', 'small', 'delta', 0), jsonb_build_object('label', E'large \\u00e9', 'delta', 1.5)),
       k * 0.5, k = 1
  FROM public.menu_items mi, generate_series(1, 2) AS k;

INSERT INTO public.ingredient_templates (store_id, name, ingredients)
SELECT CASE WHEN i = 1 THEN NULL ELSE s.id END, 'Template ' || i, jsonb_build_array('bun', 'patty', E'sauce "secret"')
  FROM public.stores s, generate_series(1, 2) AS i;

INSERT INTO public.customers (store_id, full_name, email, phone)
SELECT (SELECT id FROM public.stores ORDER BY slug LIMIT 1 OFFSET i % 4),
       CASE WHEN i % 11 = 0 THEN NULL ELSE 'Customer ' || i END,
       'customer' || i || '@example.com', CASE WHEN i % 2 = 0 THEN '+1555' || lpad(i::text, 7, '0') END
  FROM generate_series(1, 200) AS i;

INSERT INTO public.user_profiles (store_id, full_name, role)
SELECT s.id, 'Staff ' || r, (ARRAY['staff', 'manager', 'admin'])[r]
  FROM public.stores s, generate_series(1, 3) AS r;

INSERT INTO public.alert_rules (name, metric_type, condition, threshold, window_minutes, severity, channels, cooldown_minutes, enabled, last_triggered_at)
VALUES ('High Error Rate', 'error_rate', 'gt', 5, 15, 'critical', ARRAY['email', 'slack'], 30, true, now() - interval '2 days'),
       ('High API Latency', 'api_latency_p95', 'gt', 2000, 5, 'warning', ARRAY['email'], 120, true, NULL),
       ('Stuck Orders', 'stuck_orders', 'gt', 0, 45, 'warning', ARRAY['email', 'slack'], 60, true, NULL),
       ('Payment Failures', 'payment_failures', 'gt', 0, 5, 'critical', ARRAY['email', 'slack', 'sms'], 15, false, NULL);

INSERT INTO public.alert_history (fingerprint, alertname, severity, status, starts_at, ends_at, labels, annotations, receiver, notifications)
SELECT md5(i::text), (ARRAY['HighErrorRate', 'StuckOrders'])[1 + i % 2], 'warning',
       CASE WHEN i % 3 = 0 THEN 'firing' ELSE 'resolved' END,
       now() - make_interval(hours => i), CASE WHEN i % 3 = 0 THEN NULL ELSE now() - make_interval(hours => i) + interval '10 minutes' END,
       jsonb_build_object('store', 'store-' || i % 4), jsonb_build_object('summary', E'Line\\nbreak'), 'email', 1 + i % 4
  FROM generate_series(1, 25) AS i;

INSERT INTO public.deployment_log (deployment_id, environment, version, commit_sha, deployed_at, finished_at, status, smoke_test_passed, metadata)
SELECT 'dpl_' || i, CASE WHEN i % 4 = 0 THEN 'staging' ELSE 'production' END, '1.' || i || '.0', md5(i::text),
       now() - make_interval(days => 20 - i), now() - make_interval(days => 20 - i) + interval '3 minutes',
       CASE WHEN i % 5 = 0 THEN 'rolled_back' ELSE 'success' END, i % 5 <> 0, jsonb_build_object('run', i)
  FROM generate_series(1, 12) AS i;
UPDATE public.deployment_log d SET rollback_target_id = (SELECT id FROM public.deployment_log WHERE deployment_id = 'dpl_' || (substr(d.deployment_id, 5)::int - 1))
 WHERE d.status = 'rolled_back';`;

// Orders: statuses, totals, customers (every third order), names with characters to escape.
const ORDERS = `
INSERT INTO public.orders (store_id, customer_id, customer_name, status, payment_status, payment_provider, total, created_at, updated_at)
SELECT st.ids[1 + i % array_length(st.ids, 1)],
       CASE WHEN i % 3 = 0 THEN cu.ids[1 + i % array_length(cu.ids, 1)] END,
       CASE WHEN i % 13 = 0 THEN NULL WHEN i % 7 = 0 THEN E'O\\'Brien\\t"VIP"\\\\' ELSE 'Guest ' || i END,
       (ARRAY['completed', 'completed', 'completed', 'cancelled', 'pending', 'preparing', 'ready'])[1 + i % 7],
       (ARRAY['paid', 'paid', 'refunded', 'failed'])[1 + i % 4],
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'stripe' END,
       round((5 + (i::bigint * 7919 % 9000) / 100.0)::numeric, 2),
       timestamptz '2025-06-01' + make_interval(secs => i * 7),
       timestamptz '2025-06-01' + make_interval(secs => i * 7 + 900)
  FROM generate_series($1::int, $1::int + $2::int - 1) AS i,
       (SELECT array_agg(id ORDER BY slug) AS ids FROM public.stores) AS st,
       (SELECT array_agg(id ORDER BY email) AS ids FROM public.customers) AS cu`;

const ITEMS = `
INSERT INTO public.order_items (order_id, menu_item_id, name, quantity, unit_price)
SELECT o.id, CASE WHEN k = 1 THEN mi.ids[1 + abs(hashtext(o.id::text)) % array_length(mi.ids, 1)] END,
       (ARRAY['Burger', 'Fries', E'Shake\\n(large)', 'Salad'])[k], k, round((2 + k * 1.5)::numeric, 2)
  FROM public.orders o
  JOIN generate_series(1, $1::int) AS k ON true,
       (SELECT array_agg(id ORDER BY id) AS ids FROM public.menu_items) AS mi
 WHERE o.created_at >= timestamptz '2025-06-01' + make_interval(secs => $2::int * 7)
   AND o.created_at < timestamptz '2025-06-01' + make_interval(secs => ($2::int + $3::int) * 7)`;

export async function fillAppTables(client: pg.ClientBase, options: AppDataOptions): Promise<void> {
  const { orders, itemsPerOrder = 2, offset = 0, withSmallTables = true, bulk = false } = options;
  await client.query('BEGIN');
  try {
    if (bulk) await client.query(`SET LOCAL session_replication_role = replica`);
    if (withSmallTables) await client.query(SMALL_TABLES);
    if (orders > 0) {
      await client.query(ORDERS, [offset, orders]);
      if (itemsPerOrder > 0) await client.query(ITEMS, [itemsPerOrder, offset, orders]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Per table: the row count and a digest of every row's text. Exact: md5 of the sorted rows
 * (for test sizes); else the sum of 64-bit row hashes, order-free and in constant memory.
 */
export async function tableDigests(client: pg.ClientBase, tables: readonly string[], { exact = true } = {}): Promise<Record<string, string>> {
  const digest = exact ? `md5(string_agg(t::text, E'\\n' ORDER BY t::text))` : `sum(hashtextextended(t::text, 0)::numeric)::text`;
  const digests: Record<string, string> = {};
  for (const table of tables) {
    const { rows } = await client.query<{ n: string; digest: string | null }>(
      `SELECT count(*) AS n, ${digest} AS digest FROM public.${client.escapeIdentifier(table)} t`,
    );
    digests[table] = `${rows[0]?.n}:${rows[0]?.digest ?? '-'}`;
  }
  return digests;
}

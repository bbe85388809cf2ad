// The demo simulator for the embedded database: new orders arrive, active ones move through
// pending -> confirmed -> preparing -> ready -> completed (a few are cancelled), now and then
// one is left where it is long enough to count as stuck, and browser events keep arriving.
import type { Queryable } from './db.js';
import type { Logger } from './log.js';

const NEXT_STATUS = `CASE status WHEN 'pending' THEN 'confirmed' WHEN 'confirmed' THEN 'preparing'
                                 WHEN 'preparing' THEN 'ready' ELSE 'completed' END`;

// One tick: a new order (most ticks), a few recently moved active orders advanced (orders
// the simulator has decided to forget, and anything idle for 10 minutes, are left alone),
// now and then a cancellation.
const TICK_SQL = {
  arrive: `
INSERT INTO public.orders (store_id, customer_name, status, payment_status, payment_provider, total)
SELECT id,
       CASE WHEN random() < $1
             AND (SELECT count(*) FROM public.orders
                   WHERE customer_name = 'Forgotten (sim)'
                     AND status IN ('pending', 'confirmed', 'preparing', 'ready')) < 3
            THEN 'Forgotten (sim)' ELSE 'Guest (sim)' END,
       'pending', 'paid', 'stripe',
       round((8 + random() * 40)::numeric, 2)
  FROM public.stores ORDER BY random() LIMIT 1`,
  advance: `
UPDATE public.orders SET status = ${NEXT_STATUS}
 WHERE id IN (SELECT id FROM public.orders
               WHERE status IN ('pending', 'confirmed', 'preparing', 'ready')
                 AND customer_name IS DISTINCT FROM 'Forgotten (sim)'
                 AND updated_at BETWEEN now() - interval '10 minutes' AND now() - interval '3 seconds'
               ORDER BY random() LIMIT 3)`,
  cancel: `
UPDATE public.orders SET status = 'cancelled'
 WHERE id IN (SELECT id FROM public.orders WHERE status = 'pending' ORDER BY random() LIMIT 1)`,
  // What browsers and edge functions would write: a few page views, API calls (now and then a
  // 5xx or a network failure), web vitals, actions, the odd error and, rarely, a failed payment.
  browse: `
INSERT INTO public.runtime_metrics (session_id, event_type, event_data)
SELECT 'sim-' || (random() * 20)::int, kind, CASE kind
  WHEN 'page_view' THEN jsonb_build_object('page', (ARRAY['/', '/menu', '/menu/drinks', '/checkout', '/orders/' || (random() * 900)::int])[1 + (random() * 4)::int], 'referrer', '', 'userAgent', 'simulator')
  WHEN 'api_latency' THEN jsonb_build_object('endpoint', (ARRAY['orders.select', 'orders.insert', 'menu_items.select', 'stores.select'])[1 + (random() * 3)::int],
                                              'latency_ms', round((40 + random() * random() * 2500)::numeric), 'method', 'GET',
                                              'status', CASE WHEN random() < 0.02 THEN 503 WHEN random() < 0.01 THEN 0 WHEN random() < 0.03 THEN 404 ELSE 200 END)
  -- CLS is unitless (0.1 good, 0.25 poor); the others are milliseconds
  WHEN 'performance' THEN (SELECT jsonb_build_object('metric', m, 'page', '/menu', 'value',
                                   CASE WHEN m = 'CLS' THEN round((random() * random() * 0.4)::numeric, 3) ELSE round((random() * random() * 3000)::numeric) END)
                             FROM (SELECT (ARRAY['LCP', 'INP', 'CLS', 'FCP', 'TTFB'])[1 + (random() * 4)::int] AS m) v)
  WHEN 'user_action' THEN jsonb_build_object('action', (ARRAY['add_to_cart', 'checkout', 'select_store'])[1 + (random() * 2)::int])
  WHEN 'error' THEN jsonb_build_object('error_type', 'fetch_error', 'message', 'Network timeout', 'url', '/menu')
  WHEN 'edge_function' THEN jsonb_build_object('function_name', 'create-order', 'execution_time_ms', round((80 + random() * 400)::numeric), 'status', 'success')
  ELSE jsonb_build_object('provider', 'stripe', 'reason', 'card_declined', 'amount', 18.5)
  END || CASE kind
  -- where it comes from, as the receiver stores a resource: the seed's production release
  WHEN 'edge_function' THEN '{"service": "edge-functions", "env": "production", "release": "c0ffee5"}'::jsonb
  WHEN 'payment_failure' THEN '{}'::jsonb
  ELSE '{"service": "web", "env": "production", "release": "1.9.1"}'::jsonb
  END
  FROM (SELECT CASE WHEN r < 0.30 THEN 'page_view' WHEN r < 0.70 THEN 'api_latency' WHEN r < 0.82 THEN 'performance'
                    WHEN r < 0.92 THEN 'user_action' WHEN r < 0.96 THEN 'edge_function' WHEN r < 0.999 THEN 'error'
                    ELSE 'payment_failure' END AS kind
          FROM (SELECT random() AS r FROM generate_series(1, 6)) g) k`,
  // A forgotten order is backdated into 'preparing' long ago, so it counts as stuck at once.
  forget: `
UPDATE public.orders SET status = 'preparing', updated_at = now() - interval '40 minutes'
 WHERE id IN (SELECT id FROM public.orders
               WHERE customer_name = 'Forgotten (sim)' AND status = 'pending' LIMIT 1)`,
};

export interface Simulator {
  stop(): Promise<void>;
  tick(): Promise<void>;
}

export function startSimulator(db: Queryable, { intervalMs, logger }: { intervalMs: number; logger: Logger }): Simulator {
  let running: Promise<void> | undefined;
  let failing = false;

  async function tick(): Promise<void> {
    try {
      if (Math.random() < 0.8) await db.query(TICK_SQL.arrive, [0.02]);
      await db.query(TICK_SQL.advance);
      if (Math.random() < 0.05) await db.query(TICK_SQL.cancel);
      await db.query(TICK_SQL.forget);
      await db.query(TICK_SQL.browse);
      if (failing) logger.info('simulator running again');
      failing = false;
    } catch (err) {
      if (!failing) logger.warn({ err: (err as Error).message }, 'simulator tick failed');
      failing = true;
    }
  }

  const timer = setInterval(() => {
    running ??= tick().finally(() => {
      running = undefined;
    });
  }, intervalMs);
  timer.unref();

  return {
    tick,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

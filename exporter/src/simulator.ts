// The demo simulator for the embedded database: new orders arrive, active ones move through
// pending -> confirmed -> preparing -> ready -> completed (a few are cancelled), and now and
// then one is left where it is long enough to count as stuck.
import type { Queryable } from './collectors/index.js';
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

// The exporter's maintenance scheduler: run_system_maintenance() every MAINTENANCE_INTERVAL,
// where pg_cron does not run it already. Several exporters may all run it: the function takes
// a transaction-level advisory lock and answers {"skipped": true} to every caller but one, so
// exactly one acts; on the embedded database (one session, a pool of one) the lock is simply
// always free. Runs of one process never overlap (the next is scheduled when one ends).
import type pg from 'pg';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Pool } from './db.js';
import type { Logger } from './log.js';

export type MaintenanceOutcome = 'success' | 'skipped' | 'failed' | 'pg_cron';

export interface MaintenanceRun {
  outcome: MaintenanceOutcome;
  /** what run_system_maintenance() returned, when it ran */
  summary?: Record<string, unknown>;
  error?: string;
}

export interface MaintenanceScheduler {
  /** One run now (what the timer does). */
  runOnce(): Promise<MaintenanceRun>;
  /** Start the timer (does nothing when the scheduler is off); the first run is one interval away. */
  start(): void;
  /** Stop the timer and wait for a run in progress. */
  stop(): Promise<void>;
}

/** How long one run may take on the server (the pool's statement_timeout is for scrapes). */
export const MAINTENANCE_STATEMENT_TIMEOUT_MS = 300_000;

const RUN = 'SELECT public.run_system_maintenance($1::integer, $2::integer) AS summary';
const PG_CRON = 'SELECT observability.maintenance_scheduled_by_pg_cron() AS scheduled';

export interface MaintenanceDeps {
  pool: Pool;
  registry: Registry;
  options: Config['maintenance'];
  logger: Logger;
}

export function createMaintenanceScheduler({ pool, registry, options, logger }: MaintenanceDeps): MaintenanceScheduler {
  const log = logger.child({ component: 'maintenance' });
  const runs = new Counter({
    name: 'cc_maintenance_runs_total',
    help: "This exporter's maintenance runs, by outcome (skipped: another runner held the lock).",
    labelNames: ['outcome'],
    registers: options.scheduler === 'off' ? [] : [registry],
  });
  for (const outcome of ['success', 'skipped', 'failed']) runs.inc({ outcome }, 0);

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<MaintenanceRun> | undefined;
  let stopped = false;
  let lastOutcome: MaintenanceOutcome | undefined;

  async function runOnce(): Promise<MaintenanceRun> {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL statement_timeout = ${MAINTENANCE_STATEMENT_TIMEOUT_MS}`);
      await client.query(`SET LOCAL lock_timeout = '10s'`);
      if (options.scheduler === 'auto') {
        const { rows } = await client.query<{ scheduled: boolean }>(PG_CRON);
        if (rows[0]?.scheduled) {
          await client.query('COMMIT');
          return note({ outcome: 'pg_cron' });
        }
      }
      // pg reads query_timeout per query too (its types do not say so): the pool's is for scrapes.
      const query: pg.QueryConfig & { query_timeout: number } = {
        text: RUN,
        values: [options.autoHealMinutes.preparing, options.autoHealMinutes.ready],
        query_timeout: MAINTENANCE_STATEMENT_TIMEOUT_MS + 5000,
      };
      const { rows } = await client.query<{ summary: Record<string, unknown> }>(query);
      await client.query('COMMIT');
      const summary = rows[0]?.summary ?? {};
      return note({ outcome: summary.skipped === true ? 'skipped' : 'success', summary });
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      return note({ outcome: 'failed', error: (err as Error).message });
    } finally {
      // A connection that failed mid-transaction is not given back to the pool.
      client.release(broken);
    }
  }

  function note(run: MaintenanceRun): MaintenanceRun {
    if (run.outcome !== 'pg_cron') runs.inc({ outcome: run.outcome });
    if (run.outcome === 'failed') log.error({ err: run.error }, 'maintenance failed');
    else if (run.outcome === 'success') log.info({ summary: run.summary }, 'maintenance ran');
    else if (run.outcome !== lastOutcome) {
      log.info(run.outcome === 'pg_cron' ? 'pg_cron runs maintenance; this scheduler stands by' : 'maintenance skipped: another runner holds the lock');
    }
    lastOutcome = run.outcome;
    return run;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().finally(() => {
        running = undefined;
        schedule();
      });
    }, options.intervalSeconds * 1000);
    timer.unref();
  }

  return {
    runOnce,
    start() {
      if (options.scheduler === 'off' || timer || stopped) return;
      log.info({ intervalSeconds: options.intervalSeconds, autoHealMinutes: options.autoHealMinutes, mode: options.scheduler }, 'maintenance scheduler on');
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

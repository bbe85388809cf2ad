// Wiring the exporter from its configuration: the pool, the registry and collectors, the
// scraper and the HTTP app. server.ts runs it as a process; tests run it in theirs.
import type express from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createApp } from './app.js';
import { createCollectors } from './collectors/index.js';
import type { Config } from './config.js';
import { createPool, type Pool } from './db.js';
import type { Logger } from './log.js';
import { createReconciler, type Reconciler } from './hooks/reconcile.js';
import { createMaintenanceScheduler, type MaintenanceScheduler } from './maintenance-scheduler.js';
import { createScraper, type Scraper } from './scrape.js';
import { gitRevision, version } from './version.js';

export interface Exporter {
  app: express.Express;
  /** with OTLP_PORT: /v1/traces alone, for the public listener (server.ts listens on it) */
  publicApp: express.Express | undefined;
  pool: Pool;
  scraper: Scraper;
  registry: Registry;
  /** run_system_maintenance() on a timer; server.ts starts it */
  maintenance: MaintenanceScheduler;
  /** alert_history reconciled with Alertmanager on a timer (ALERTMANAGER_URL); server.ts starts it */
  reconciler: Reconciler;
  close(): Promise<void>;
}

export function createExporter(config: Config, connectionString: string, logger: Logger): Exporter {
  const pool = createPool(connectionString, config.db, logger);
  const registry = new Registry();
  // process_* and nodejs_*, among them the event loop's delay since the last scrape
  // (nodejs_eventloop_lag_p99_seconds): a hostile value that held the loop would show there.
  collectDefaultMetrics({ register: registry });
  const scraper = createScraper({ registry, db: pool, collectors: createCollectors(registry, config, logger), logger, version, revision: config.revision ?? gitRevision() });
  const { app, publicApp } = createApp({
    scraper,
    db: pool,
    auth: config.auth,
    otlp: { options: config.otlp, routePatterns: config.events.routePatterns, registry },
    logger,
    hooks: { options: config.hooks, registry },
  });
  const maintenance = createMaintenanceScheduler({ pool, registry, options: config.maintenance, logger });
  const reconciler = createReconciler({ db: pool, options: config.reconcile, registry, logger });
  return {
    app,
    publicApp,
    pool,
    scraper,
    registry,
    maintenance,
    reconciler,
    close: async () => {
      await reconciler.stop();
      await maintenance.stop();
      await pool.end();
    },
  };
}

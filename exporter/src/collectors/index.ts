// The only list of collectors. COLLECTORS in the environment picks from these names; config
// refuses any other.
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { createBackupsCollector } from './backups.js';
import { createDatabaseCollector } from './database.js';
import { createDeploymentsCollector } from './deployments.js';
import { createEventsCollector } from './events.js';
import { createMaintenanceCollector } from './maintenance.js';
import { createOrdersCollector } from './orders.js';
import type { Collector } from './types.js';

const factories: Record<string, (registry: Registry, config: Config, logger?: Logger) => Collector> = {
  orders: (registry, config) => createOrdersCollector(registry, config.orders),
  deployments: (registry) => createDeploymentsCollector(registry),
  database: (registry, config) => createDatabaseCollector(registry, config.database),
  events: (registry, config, logger) =>
    createEventsCollector(registry, {
      ...config.events,
      instance: config.instance,
      logger,
    }),
  backups: (registry) => createBackupsCollector(registry),
  maintenance: (registry) => createMaintenanceCollector(registry),
};

export const collectorNames: readonly string[] = Object.keys(factories);

/** The enabled collectors, in config order, registered on the given registry. */
export function createCollectors(registry: Registry, config: Config, logger?: Logger): Collector[] {
  return config.collectors.map((name) => {
    const factory = factories[name];
    if (!factory) throw new Error(`unknown collector ${name}`);
    return factory(registry, config, logger);
  });
}

export type { Collector } from './types.js';

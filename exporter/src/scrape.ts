// The scrape orchestrator: refreshes every collector once per scrape (concurrent scrapes share
// one refresh), times each, turns a failure into cc_collector_success{collector}=0 and never
// into a failed scrape. When Postgres is unreachable it serves cc_up 0 and no business series.
import { Gauge, Registry } from 'prom-client';
import type { Collector } from './collectors/index.js';
import { describeError, type Queryable } from './db.js';
import { renderOpenMetrics, type ExpositionFormat } from './exposition.js';
import type { Logger } from './log.js';

export interface ScraperOptions {
  registry: Registry;
  db: Queryable;
  collectors: Collector[];
  logger: Logger;
  version: string;
  /** the source revision (EXPORTER_REVISION, else the git checkout's commit) */
  revision?: string;
}

export interface Scraper {
  /**
   * Refresh every collector, then render the registry: as Prometheus text 0.0.4 (the default) or
   * as OpenMetrics 1.0.0 (contentTypes in ./exposition.ts names each). Both render the same
   * refresh; neither changes the registry, so concurrent scrapes may ask for either.
   */
  scrape(format?: ExpositionFormat): Promise<string>;
  /** Refresh without rendering (shared with concurrent callers). */
  refresh(): Promise<void>;
  /** What the collectors say about a degraded way of working (for /readyz), one line each. */
  notes(): string[];
}

export function createScraper({ registry, db, collectors, logger, version, revision = 'unknown' }: ScraperOptions): Scraper {
  const up = new Gauge({
    name: 'cc_up',
    help: 'Whether the exporter reached Postgres during this scrape (1) or not (0).',
    registers: [registry],
  });
  const success = new Gauge({
    name: 'cc_collector_success',
    help: 'Whether the collector succeeded during this scrape (1) or not (0).',
    labelNames: ['collector'],
    registers: [registry],
  });
  const duration = new Gauge({
    name: 'cc_collector_duration_seconds',
    help: 'How long the collector took during this scrape.',
    labelNames: ['collector'],
    registers: [registry],
  });
  const buildInfo = new Gauge({
    name: 'cc_exporter_build_info',
    help: 'The exporter build; always 1.',
    labelNames: ['version', 'revision', 'nodejs'],
    registers: [registry],
  });
  buildInfo.set({ version, revision, nodejs: process.version }, 1);

  // Failures are logged when a collector starts failing or its error changes, not every scrape.
  const lastError = new Map<string, string>();
  let reachable: boolean | undefined;

  async function runCollector(collector: Collector): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      await collector.collect(db);
      success.set({ collector: collector.name }, 1);
      if (lastError.delete(collector.name)) logger.info({ collector: collector.name }, 'collector recovered');
    } catch (err) {
      collector.clear();
      success.set({ collector: collector.name }, 0);
      const message = describeError(err);
      if (lastError.get(collector.name) !== message) {
        logger.error({ collector: collector.name, err: message }, 'collector failed');
        lastError.set(collector.name, message);
      }
    } finally {
      duration.set({ collector: collector.name }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  async function refreshOnce(): Promise<void> {
    try {
      await db.query('SELECT 1');
    } catch (err) {
      up.set(0);
      for (const collector of collectors) {
        collector.clear();
        success.set({ collector: collector.name }, 0);
        duration.set({ collector: collector.name }, 0);
      }
      if (reachable !== false) logger.error({ err: describeError(err) }, 'database unreachable');
      reachable = false;
      return;
    }
    if (reachable === false) logger.info('database reachable again');
    reachable = true;
    up.set(1);
    await Promise.all(collectors.map(runCollector));
  }

  let inFlight: Promise<void> | undefined;
  function refresh(): Promise<void> {
    inFlight ??= refreshOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  return {
    refresh,
    notes: () => collectors.flatMap((c) => c.status?.() ?? []),
    async scrape(format = 'text') {
      await refresh();
      return format === 'openmetrics' ? renderOpenMetrics(registry) : registry.metrics();
    },
  };
}

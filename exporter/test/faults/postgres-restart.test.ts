// The Postgres server itself stopped and started again under ingest and scrapes — a clean fast
// shutdown (sessions terminated by the server) and a crash (pg_ctl stop -m immediate, WAL
// recovery at the next start) — on a private throwaway cluster, so the shared test server is
// never stopped: every span answered 2xx is in runtime_metrics after the crash recovery (a 2xx
// is sent after a durable commit), the exporter reconnects by itself, and the event counters end
// equal to the rows. postgres-outage.test.ts does the same with the network cut by a proxy.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { privatePostgresSkip, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { applySqlDir, migrate } from '../../src/migrate.js';
import { sqlPaths } from '../../src/paths.js';
import { eventCountersAndRows, expectEveryAcceptedSpanStored, expectRetriesToStoreEachRequestOnce, is2xx, OUTAGE_EXPORTER_ENV, OUTAGE_SCRAPE_BOUND_MS, reconcile, report, rowsPerSession, sleep, startIngestLoad, startScrapes, tally, waitForRecovery } from './helpers.js';

const skip = privatePostgresSkip();
const WORKERS = 4;
const SPANS = 10;

describe.skipIf(skip !== undefined)(`Postgres server stopped and restarted under load [private cluster]${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let cluster: PrivatePostgres;
  let exporter: RunningExporter;

  beforeAll(async () => {
    cluster = await startPrivatePostgres();
    const client = new pg.Client({ connectionString: cluster.connectionString });
    await client.connect();
    try {
      await applySqlDir(client, sqlPaths.app);
      await migrate(client, { logger: silentLogger });
    } finally {
      await client.end();
    }
    exporter = await startExporter(cluster.connectionString, OUTAGE_EXPORTER_ENV);
    expect((await exporter.get('/metrics')).status).toBe(200); // the event cursor starts here, on an empty table
  }, 90_000);
  afterAll(async () => {
    await exporter?.stop();
    await cluster?.destroy();
  });

  it('keeps every 2xx span through a fast shutdown and a crash of the server, and reconnects by itself', async () => {
    const load = startIngestLoad(exporter.url, { prefix: 'restart-', workers: WORKERS, spans: SPANS });
    const scraping = startScrapes((path) => exporter.get(path));
    const windows: { what: string; from: number; to: number }[] = [];
    let marker = 0;
    let down = false;
    const outage = async (mode: 'fast' | 'immediate', ms: number) => {
      const from = Date.now();
      down = true;
      await cluster.stop(mode);
      await sleep(ms);
      await cluster.start();
      down = false;
      windows.push({ what: mode === 'fast' ? 'fast shutdown' : 'crash', from, to: Date.now() });
    };
    try {
      await sleep(1_000);
      await outage('fast', 1_500);
      await sleep(1_500);
      await outage('immediate', 1_500);
      // After the crash recovery the exporter must serve and store again by itself.
      await waitForRecovery(scraping.scrapes, Date.now());
      marker = load.ledger.length;
      await sleep(2_000);
    } finally {
      if (down) await cluster.start().catch(() => undefined);
      await load.stop();
      await scraping.stop();
    }
    const { ledger } = load;
    const { scrapes } = scraping;

    expect(ledger.filter((o) => o.error !== undefined)).toEqual([]);
    for (const o of ledger.filter((x) => !is2xx(x))) expect([o.status, o.retryAfter], o.id).toEqual([503, '5']);
    for (const w of windows) {
      expect(scrapes.some((s) => s.from >= w.from && s.at <= w.to + 500 && s.up === 0), `${w.what}: a scrape with cc_up 0`).toBe(true);
    }
    const afterLast = ledger.slice(marker + WORKERS * 2).filter((o) => o.status !== undefined);
    expect(afterLast.filter(is2xx).length).toBeGreaterThan(afterLast.length / 2);
    expect(scrapes.filter((s) => s.status !== 200)).toEqual([]);
    const slowest = Math.max(...scrapes.map((s) => s.ms));
    expect(slowest).toBeLessThan(OUTAGE_SCRAPE_BOUND_MS); // none left waiting on Postgres

    const client = new pg.Client({ connectionString: cluster.connectionString });
    await client.connect();
    try {
      const r = reconcile(ledger, await rowsPerSession(client, 'restart-'));
      report(
        `Postgres server restarted under load (${windows.map((w) => `${w.what} ${w.to - w.from} ms`).join(', ')}): ${ledger.length} requests ${JSON.stringify(tally(ledger))}, ` +
          `${r.acceptedSpans} spans answered 2xx, ${r.rows} rows after recovery (${r.storedWithoutAnswerSpans} from requests answered 503 after their commit); ` +
          `${scrapes.length} scrapes all 200, ${scrapes.filter((s) => s.up === 0).length} with cc_up 0, slowest ${Math.round(slowest)} ms`,
      );
      expectEveryAcceptedSpanStored(r);

      // The clients send again what was not answered 2xx: every request ends stored exactly once.
      const metrics = async () => (await exporter.get('/metrics')).body;
      report(`after the restarts, ${await expectRetriesToStoreEachRequestOnce(exporter.url, ledger, r, () => rowsPerSession(client, 'restart-'), metrics)}`);

      // The event collector counted each of those rows once across the restarts.
      const { counted, inTable } = await eventCountersAndRows(client, metrics);
      report(`event counters after the restarts: cc_events_total sums to ${counted}, ${inTable} rows in the table`);
      expect(counted).toBe(inTable);
    } finally {
      await client.end();
    }
  }, 90_000);
});

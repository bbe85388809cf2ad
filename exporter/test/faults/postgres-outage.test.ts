// Postgres going away and coming back, repeatedly, while browsers send spans and Prometheus
// scrapes: every span answered 2xx is in runtime_metrics afterwards, every other answer is a 503
// with Retry-After, every scrape is a 200 (bounded by the connect timeout), the exporter serves
// again by itself after each outage (no restart), and the event counters end equal to the rows
// in the table (no row lost or counted twice across the outages). Postgres is taken away behind
// a loopback TCP proxy (refused and dropped connections, then a server that accepts and never
// answers), so the shared test server stays up. resilience.test.ts and otlp-resilience.test.ts
// cover the same faults one request at a time; this is the same under concurrent load.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, connect, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { startProxy, type DbProxy } from '../support/proxy.js';
import { eventCountersAndRows, expectEveryAcceptedSpanStored, expectRetriesToStoreEachRequestOnce, is2xx, OUTAGE_EXPORTER_ENV, OUTAGE_SCRAPE_BOUND_MS, reconcile, report, rowsPerSession, sleep, startIngestLoad, startScrapes, tally, waitForRecovery } from './helpers.js';

const server = backends.find((b) => b.kind === 'postgres')!;
const WORKERS = 4;
const SPANS = 10;

describe.skipIf(server.skip !== undefined)(`Postgres down and back under load [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let proxy: DbProxy;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    proxy = await startProxy(db.connectionString);
    exporter = await startExporter(proxy.connectionString, OUTAGE_EXPORTER_ENV);
    expect((await exporter.get('/metrics')).status).toBe(200); // the event cursor starts here, on an empty table
  });
  afterAll(async () => {
    await exporter?.stop();
    await proxy?.close();
    await db?.stop();
  });

  it('keeps every 2xx span and recovers by itself across outages during ingest and scrapes', async () => {
    const load = startIngestLoad(exporter.url, { prefix: 'outage-', workers: WORKERS, spans: SPANS });
    const scraping = startScrapes((path) => exporter.get(path));

    // The schedule: up, cut (refused and dropped), up, blackholed (accepts, never answers), up, cut, up.
    const windows: { what: string; from: number; to: number }[] = [];
    const outage = async (what: 'cut' | 'blackhole', ms: number) => {
      const from = Date.now();
      await (what === 'cut' ? proxy.cut() : proxy.blackhole());
      await sleep(ms);
      await proxy.restore();
      windows.push({ what, from, to: Date.now() });
    };
    const markers: number[] = [];
    try {
      await sleep(1_000);
      await outage('cut', 1_500);
      await sleep(1_500);
      await outage('blackhole', 2_500); // longer than a scrape caught at its start plus the 1 s connect timeout
      await sleep(1_500);
      await outage('cut', 1_000);
      // After the last outage the exporter must serve and store again by itself: a scrape begun
      // after the restore says cc_up 1 (within 30 s: reconnecting takes about 1 s, longer on a
      // busy machine), then the requests sent from there on are stored.
      await waitForRecovery(scraping.scrapes, Date.now());
      markers.push(load.ledger.length);
      await sleep(2_000);
    } finally {
      await proxy.restore();
      await load.stop();
      await scraping.stop();
    }
    const { ledger } = load;
    const { scrapes } = scraping;

    // Every request got an HTTP answer (the exporter never crashed nor hung): 2xx, or 503 + Retry-After.
    expect(ledger.filter((o) => o.error !== undefined)).toEqual([]);
    for (const o of ledger.filter((x) => !is2xx(x))) expect([o.status, o.retryAfter], o.id).toEqual([503, '5']);
    // Each outage was felt: 503s to the receiver and cc_up 0 to a scrape while it lasted.
    for (const w of windows) {
      const timeline = scrapes.map((s) => `${s.at - w.from}:${s.up}:${Math.round(s.ms)}`).join(' ');
      expect(scrapes.some((s) => s.at > w.from && s.at < w.to + 500 && s.up === 0), `${w.what} (${w.to - w.from} ms): a scrape with cc_up 0 in ${timeline}`).toBe(true);
    }
    expect(ledger.filter((o) => o.status === 503).length).toBeGreaterThanOrEqual(windows.length);
    // Recovered without a restart: requests sent after the last outage are stored, scrapes see cc_up 1.
    const afterLast = ledger.slice(markers[0]! + WORKERS * 2).filter((o) => o.status !== undefined);
    expect(afterLast.length).toBeGreaterThan(0);
    expect(afterLast.filter(is2xx).length).toBeGreaterThan(afterLast.length / 2);
    // Every scrape: 200, none left waiting on Postgres (5x the connect timeouts it may wait).
    expect(scrapes.filter((s) => s.status !== 200)).toEqual([]);
    const slowest = Math.max(...scrapes.map((s) => s.ms));
    expect(slowest).toBeLessThan(OUTAGE_SCRAPE_BOUND_MS);

    const client = await connect(db);
    try {
      const stored = await rowsPerSession(client, 'outage-');
      const r = reconcile(ledger, stored);
      report(
        `Postgres outages under load (${windows.map((w) => `${w.what} ${w.to - w.from} ms`).join(', ')}): ${ledger.length} requests ${JSON.stringify(tally(ledger))}, ` +
          `${r.acceptedSpans} spans answered 2xx, ${r.rows} rows stored (${r.storedWithoutAnswerSpans} of them from requests answered 503 after their commit); ` +
          `${scrapes.length} scrapes all 200, ${scrapes.filter((s) => s.up === 0).length} with cc_up 0, slowest ${Math.round(slowest)} ms`,
      );
      expectEveryAcceptedSpanStored(r);

      // The clients send again what was not answered 2xx: every request ends stored exactly once.
      const metrics = async () => (await exporter.get('/metrics')).body;
      report(`after the outages, ${await expectRetriesToStoreEachRequestOnce(exporter.url, ledger, r, () => rowsPerSession(client, 'outage-'), metrics)}`);

      // The event collector counted each of those rows once across the outages.
      const { counted, inTable } = await eventCountersAndRows(client, metrics);
      report(`event counters after the outages: cc_events_total sums to ${counted}, ${inTable} rows in the table`);
      expect(counted).toBe(inTable);
    } finally {
      await client.end();
    }
  }, 90_000);
});

// Exactly once, under fire: many writers whose transactions commit out of order (long, short,
// rolled back) while overlapping scrapes run throughout; afterwards every counter equals what
// SQL counts over the committed rows. Needs concurrent sessions: a Postgres server only.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTestDatabase, waitUntilSettled, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { parseExposition } from '../support/metrics.js';

/** rows written straight into the table (as the app's own writers do) carry no service, environment or release */
const NO_DIMENSIONS = 'service="unknown",env="unknown",release="unknown"';

const server = backends.find((b) => b.kind === 'postgres')!;
const WRITERS = 8;
const TRANSACTIONS_PER_WRITER = 30;

const ENDPOINTS = ['orders.select', '/rest/v1/orders', '/rest/v1/menu_items'];
const STATUSES = [200, 201, 304, 404, 500, 503, 0];
const REASONS = ['card_declined', 'expired', 'insufficient_funds'];
const PAGES = ['/', '/menu', '/checkout'];

function randomEvent(rand: () => number): [string, object] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  switch (Math.floor(rand() * 4)) {
    case 0:
      return ['api_latency', { endpoint: pick(ENDPOINTS), latency_ms: Math.floor(rand() * 3000), status: pick(STATUSES), method: 'GET' }];
    case 1:
      return ['page_view', { page: pick(PAGES) }];
    case 2:
      return ['payment_failure', { provider: 'stripe', reason: pick(REASONS), order_id: 'x', amount: 10 }];
    default:
      return ['user_action', { action: 'tap' }];
  }
}

describe.skipIf(server.skip !== undefined)(`events exactly once [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    exporter = await startExporter(db.connectionString, {
      COLLECTORS: 'events',
      EVENTS_BATCH_SIZE: '100', // small batches: many cursor moves while writers write
      EVENTS_MAX_BATCHES_PER_SCRAPE: '3',
    });
    await exporter.get('/metrics'); // the cursor starts here, before any writer writes
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it('counts every committed row once, with transactions committing out of order', async () => {
    let writing = true;
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

    const writer = async (w: number) => {
      const client = new pg.Client({ connectionString: db.connectionString });
      await client.connect();
      try {
        for (let t = 0; t < TRANSACTIONS_PER_WRITER; t++) {
          await client.query('BEGIN');
          const statements = 1 + Math.floor(rand() * 3);
          for (let s = 0; s < statements; s++) {
            const rows = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => randomEvent(rand));
            await client.query(
              `INSERT INTO runtime_metrics (session_id, event_type, event_data)
               SELECT $1, * FROM unnest($2::text[], $3::jsonb[])`,
              [`w${w}`, rows.map((r) => r[0]), rows.map((r) => JSON.stringify(r[1]))],
            );
            // Some transactions stay open across scrapes, so later ids commit first.
            if (rand() < 0.3) await client.query('SELECT pg_sleep($1)', [rand() * 0.15]);
          }
          await client.query(rand() < 0.2 ? 'ROLLBACK' : 'COMMIT');
        }
      } finally {
        await client.end();
      }
    };

    let scrapes = 0;
    const scraper = async () => {
      while (writing) {
        const res = await exporter.get('/metrics');
        expect(res.status).toBe(200);
        scrapes++;
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 15)));
      }
    };

    const scrapers = [scraper(), scraper(), scraper()];
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    writing = false;
    await Promise.all(scrapers);

    // Drain: until nothing is pending, then once more for label sets first seen in the last scrape.
    await waitUntilSettled(exporter.pool);
    let series = parseExposition((await exporter.get('/metrics')).body);
    for (let i = 0; i < 50 && series.get('cc_events_pending') !== 0; i++) {
      series = parseExposition((await exporter.get('/metrics')).body);
    }
    expect(series.get('cc_events_pending')).toBe(0);
    series = parseExposition((await exporter.get('/metrics')).body);

    const truth = async (sql: string) => (await exporter.pool.query(sql)).rows;
    const byType = await truth(`SELECT event_type, count(*)::int AS n FROM runtime_metrics GROUP BY 1`);
    const total = byType.reduce((n, r) => n + r.n, 0);
    expect(total).toBeGreaterThan(500);
    expect(scrapes).toBeGreaterThan(20);
    for (const { event_type, n } of byType) expect(series.get(`cc_events_total{event_type="${event_type}"}`), event_type).toBe(n);

    const api = await truth(`
      SELECT event_data ->> 'endpoint' AS endpoint,
             CASE WHEN (event_data ->> 'status')::int = 0 THEN 'network'
                  ELSE ((event_data ->> 'status')::int / 100)::text || 'xx' END AS status_class,
             count(*)::int AS n, sum((event_data ->> 'latency_ms')::numeric / 1000)::float8 AS seconds
        FROM runtime_metrics WHERE event_type = 'api_latency' GROUP BY 1, 2`);
    for (const r of api) {
      const labels = `{endpoint="${r.endpoint}",method="GET",status_class="${r.status_class}",${NO_DIMENSIONS}}`;
      expect(series.get(`cc_api_request_duration_seconds_count${labels}`), labels).toBe(r.n);
      expect(series.get(`cc_api_request_duration_seconds_sum${labels}`)).toBeCloseTo(r.seconds, 6);
    }
    const pages = await truth(`SELECT event_data ->> 'page' AS page, count(*)::int AS n FROM runtime_metrics WHERE event_type = 'page_view' GROUP BY 1`);
    for (const r of pages) expect(series.get(`cc_page_views_total{page="${r.page}",${NO_DIMENSIONS}}`), r.page).toBe(r.n);
    const failures = await truth(`SELECT event_data ->> 'reason' AS reason, count(*)::int AS n FROM runtime_metrics WHERE event_type = 'payment_failure' GROUP BY 1`);
    for (const r of failures) {
      expect(series.get(`cc_payment_failures_total{provider="stripe",reason="${r.reason}"}`), r.reason).toBe(r.n);
    }
  });
});

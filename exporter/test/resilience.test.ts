// Postgres going away and coming back, behind a loopback proxy: the exporter keeps answering
// /metrics with 200 and cc_up 0 (no stale business series), and recovers by itself.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from './support/databases.js';
import { startExporter, type RunningExporter } from './support/exporter.js';
import { parseExposition } from './support/metrics.js';
import { startProxy, type DbProxy } from './support/proxy.js';

const BUSINESS = /^cc_(orders|deployment|db)_/;
const CONNECT_TIMEOUT_MS = 1000;
/** A scrape waits for one connection at most (its SELECT 1 fails first); a busy machine is slow: 5x. */
const SCRAPE_BOUND_MS = 5 * CONNECT_TIMEOUT_MS;

function businessSeries(body: string): string[] {
  return [...parseExposition(body).keys()].filter((k) => BUSINESS.test(k));
}

describeEachBackend('Postgres down and back', (kind) => {
  let db: TestDatabase;
  let proxy: DbProxy;
  let exporter: RunningExporter;
  const logged: { msg: string; err?: string }[] = [];
  /** the error of the last "database unreachable" line: why the scrape said cc_up 0 */
  const unreachableBecause = () => logged.filter((l) => l.msg === 'database unreachable').at(-1)?.err;

  beforeAll(async () => {
    db = await createTestDatabase(kind, { seed: true });
    proxy = await startProxy(db.connectionString);
    await proxy.cut(); // the exporter starts while Postgres is unreachable
    const logger = createLogger('info', { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string; err?: string }) });
    exporter = await startExporter(proxy.connectionString, {
      DB_POOL_MAX: kind === 'pglite' ? '1' : '3',
      DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DB_STATEMENT_TIMEOUT_MS: '2000',
    }, logger);
  });
  afterAll(async () => {
    await exporter?.stop();
    await proxy?.close();
    await db?.stop();
  });

  const scrape = async () => {
    const res = await exporter.get('/metrics');
    expect(res.status).toBe(200);
    return { series: parseExposition(res.body), business: businessSeries(res.body), ms: res.ms };
  };

  it('starts with Postgres down: 200, cc_up 0, collectors failed, not ready', async () => {
    const { series, business } = await scrape();
    expect(series.get('cc_up')).toBe(0);
    expect(series.get('cc_collector_success{collector="orders"}')).toBe(0);
    expect(business).toEqual([]);
    expect((await exporter.get('/readyz')).status).toBe(503);
    expect((await exporter.get('/healthz')).status).toBe(200);
  });

  it('recovers without a restart when Postgres comes up', async () => {
    await proxy.restore();
    const { series, business } = await scrape();
    expect(series.get('cc_up')).toBe(1);
    expect(series.get('cc_collector_success{collector="orders"}')).toBe(1);
    expect(business.length).toBeGreaterThan(10);
    expect((await exporter.get('/readyz')).status).toBe(200);
  });

  it('drops every business series when Postgres goes away mid-run, and comes back again', async () => {
    await proxy.cut();
    const down = await scrape();
    expect(down.series.get('cc_up')).toBe(0);
    expect(down.business).toEqual([]);
    // Refused or dropped, not waited for: no timeout was needed to answer.
    expect(unreachableBecause()).toMatch(/^(connect ECONNREFUSED|Connection terminated unexpectedly)/);
    expect(down.ms).toBeLessThan(SCRAPE_BOUND_MS);

    await proxy.restore();
    const up = await scrape();
    expect(up.series.get('cc_up')).toBe(1);
    expect(up.series.get('cc_orders_stuck{store="downtown",status="preparing"}')).toBe(1);
  });

  it('answers within the connect timeout when Postgres accepts but never replies', async () => {
    await proxy.blackhole();
    // The pool's connections were dropped with the old server: the scrape must open a new one.
    await expect.poll(() => exporter.pool.idleCount).toBe(0);
    const hung = await scrape();
    expect(hung.series.get('cc_up')).toBe(0);
    expect(hung.business).toEqual([]);
    // The answer came from the connect timeout (1 s), not from a reply; the bound is 5x that
    // timeout (Prometheus' default scrape timeout is 10 s).
    expect(unreachableBecause()).toMatch(/timeout/i);
    expect(hung.ms).toBeLessThan(SCRAPE_BOUND_MS);

    await proxy.restore();
    expect((await scrape()).series.get('cc_up')).toBe(1);
  });
});

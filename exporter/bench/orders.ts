// Benchmark of the orders collector: collect() with 1,000 and with 1,000,000 orders, 200 active in
// both, to show its cost follows the active orders (partial index), not the table. `npm run bench:orders`
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { withClient } from './database.js';
import { Registry } from 'prom-client';
import { createOrdersCollector, ORDERS_QUERY } from '../src/collectors/orders.js';
import { startEmbeddedDatabase } from '../src/embedded.js';
import { createLogger } from '../src/log.js';
import { applySqlDir, migrate } from '../src/migrate.js';
import { sqlPaths } from '../src/paths.js';

const THRESHOLDS = { preparing: 1800, ready: 3600 };
const WARMUP = 5;
const RUNS = 200;
const ACTIVE = 200;
const CHUNK = 250_000;

const started = performance.now();
const progress = (msg: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const fmt = (n: number) => n.toLocaleString('en-US');

interface BenchDatabase {
  description: string;
  connectionString: string;
  stop(): Promise<void>;
}

/** A fresh database on the server of BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded PGlite. */
async function openDatabase(): Promise<BenchDatabase> {
  const serverUrl = process.env.BENCH_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  if (!serverUrl) {
    const embedded = await startEmbeddedDatabase();
    return { description: 'embedded PGlite (in memory)', connectionString: embedded.connectionString, stop: () => embedded.stop() };
  }
  const name = `cc_bench_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    description: `Postgres server at ${url.host}, database ${name} (dropped at the end)`,
    connectionString: url.toString(),
    stop: async () => {
      await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

// The 3 stores' ids in slug order: order number i goes to store ids[1 + i % 3].
const STORES = `(SELECT array_agg(id ORDER BY slug) AS ids FROM public.stores) AS st`;

/** 200 active orders over the 4 active statuses and 3 stores, up to 2 h in their status. */
async function insertActive(client: pg.Client): Promise<void> {
  await client.query(
    `INSERT INTO public.orders (store_id, status, total, created_at, updated_at)
     SELECT st.ids[1 + i % 3],
            (ARRAY['pending', 'confirmed', 'preparing', 'ready'])[1 + (i / 3) % 4],
            10 + i % 40,
            now() - make_interval(mins => (i * 7) % 120 + 5),
            now() - make_interval(mins => (i * 7) % 120)
       FROM generate_series(0, $1::int - 1) AS i, ${STORES}`,
    [ACTIVE],
  );
}

/** Completed (90%) and cancelled (10%) orders spread over the last 90 days. */
async function insertTerminal(client: pg.Client, offset: number, count: number): Promise<void> {
  await client.query(
    `INSERT INTO public.orders (store_id, status, payment_status, total, created_at, updated_at)
     SELECT st.ids[1 + i % 3],
            CASE WHEN i % 10 = 0 THEN 'cancelled' ELSE 'completed' END,
            'paid',
            10 + i % 40,
            now() - make_interval(mins => i % 129600 + 40),
            now() - make_interval(mins => i % 129600 + 10)
       FROM generate_series($1::int, $1::int + $2::int - 1) AS i, ${STORES}`,
    [offset, count],
  );
}

interface Result {
  scenario: string;
  total: number;
  active: number;
  median: number;
  p95: number;
  mean: number;
}

async function metricSum(registry: Registry, name: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

/** Time RUNS collects on a fresh registry, after WARMUP; checks the active count is ACTIVE. */
async function measure(client: pg.Client, scenario: string): Promise<Result> {
  const registry = new Registry();
  const collector = createOrdersCollector(registry, { stuckThresholds: THRESHOLDS });
  for (let i = 0; i < WARMUP; i++) await collector.collect(client);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    await collector.collect(client);
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const active = await metricSum(registry, 'cc_orders_active');
  const stuck = await metricSum(registry, 'cc_orders_stuck');
  if (active !== ACTIVE) throw new Error(`scenario ${scenario}: cc_orders_active sums to ${active}, expected ${ACTIVE}`);
  if (stuck === 0) throw new Error(`scenario ${scenario}: cc_orders_stuck sums to 0, expected some stuck orders`);
  const { rows } = await client.query<{ total: number }>('SELECT count(*)::integer AS total FROM public.orders');
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)] ?? NaN;
  progress(`scenario ${scenario}: ${RUNS} collects timed; cc_orders_active = ${active}, cc_orders_stuck = ${stuck}`);
  return { scenario, total: rows[0]?.total ?? NaN, active, median: at(0.5), p95: at(0.95), mean: ms.reduce((s, v) => s + v, 0) / ms.length };
}

function printTable(results: Result[]): void {
  const header = ['scenario', 'total orders', 'active orders', 'median ms', 'p95 ms', 'mean ms'];
  const rows = results.map((r) => [r.scenario, fmt(r.total), fmt(r.active), r.median.toFixed(3), r.p95.toFixed(3), r.mean.toFixed(3)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

async function run(client: pg.Client): Promise<void> {
  progress('applying sql/app and the migrations…');
  await applySqlDir(client, sqlPaths.app);
  await migrate(client, { logger: createLogger('silent') });
  // The order event triggers write a runtime_metrics row per inserted order: they would only
  // slow the bulk insert and are not what is measured. The database is thrown away after.
  await client.query('DROP TRIGGER orders_created_event ON public.orders; DROP TRIGGER orders_status_event ON public.orders');
  await client.query(`INSERT INTO public.stores (slug, name) VALUES ('bench-1', 'Bench 1'), ('bench-2', 'Bench 2'), ('bench-3', 'Bench 3')`);

  const terminalA = 1_000 - ACTIVE;
  progress(`scenario A: inserting ${ACTIVE} active and ${fmt(terminalA)} terminal orders…`);
  await insertActive(client);
  await insertTerminal(client, 0, terminalA);
  await client.query('ANALYZE public.orders');
  const a = await measure(client, 'A');

  const extra = 1_000_000 - 1_000;
  for (let done = 0; done < extra; done += CHUNK) {
    const count = Math.min(CHUNK, extra - done);
    progress(`scenario B: inserting ${fmt(extra)} terminal orders… ${fmt(done)} done, next ${fmt(count)}`);
    await insertTerminal(client, terminalA + done, count);
  }
  progress('scenario B: ANALYZE public.orders…');
  await client.query('ANALYZE public.orders');
  const b = await measure(client, 'B');

  console.log();
  printTable([a, b]);
  console.log(`\nratio B/A of medians: ${(b.median / a.median).toFixed(2)}`);

  console.log('\nEXPLAIN (ANALYZE, BUFFERS) of ORDERS_QUERY, scenario B:');
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${ORDERS_QUERY}`, [JSON.stringify(THRESHOLDS)]);
  for (const row of rows) console.log(`  ${row['QUERY PLAN']}`);
}

async function main(): Promise<void> {
  const db = await openDatabase();
  console.log(`database: ${db.description}`);
  try {
    await withClient(db.connectionString, run);
  } finally {
    await db.stop();
  }
  progress('done');
}

main().catch((err: unknown) => {
  console.error(`bench:orders failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});

// Benchmark of the event pipeline, on a fresh database of one Postgres server:
// (a) the event collector's collect() with 1,000,000 and with 10,000,000 rows in runtime_metrics,
//     10,000 new rows per scrape, beside the reference report's get_api_latency_stats(24) and the
//     same 24-hour percentile query served by Debian's prometheus-sql-exporter;
// (b) OTLP ingest throughput of one exporter process (node exporter/dist/server.js) fed by a load
//     generator process (ingest-load.ts) over loopback, beside raw COPY of the same rows;
// (c) peak memory: this process's after each size of (a), the exporter process's in (b).
// `npm run bench:events` with BENCH_DATABASE_URL (or TEST_DATABASE_URL) naming a Postgres server;
// BENCH_PARTS=scrape or BENCH_PARTS=ingest runs one part (default both; ingest alone loads nothing).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { withClient } from './database.js';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { Registry } from 'prom-client';
import { COUNT_PENDING, createEventsCollector, READ_SETTLED, SERIES_BUDGET_DEFAULTS, STATE_TABLE_EXISTS, type EventsOptions } from '../src/collectors/events.js';
import type { Queryable } from '../src/db.js';
import { DEFAULTS } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { applySqlDir, migrate } from '../src/migrate.js';
import { sqlPaths } from '../src/paths.js';
import { buildRequest, REQUEST_VARIANTS, type LoadResult } from './ingest-load.js';
import { createExporterLogin, machineCpuSeconds, openDatabase, procStat, procStatusKiB, runLoadGenerator, startExporterChild, type BenchDatabase, type ExporterChild } from './processes.js';

const SIZES = [1_000_000, 10_000_000];
/** rows per INSERT … SELECT of the bulk load, one transaction each */
const CHUNK = 1_000_000;
/** new rows between two scrapes, inserted in one statement */
const NEW_ROWS = 10_000;
const COLLECT_RUNS = 30;
const WINDOWED_RUNS = 5;
const SQL_EXPORTER_RUNS = 3;
/** the bulk rows' created_at is spread over this many seconds back from now */
const SPREAD_SECONDS = 48 * 3600;
/** the project's goal: the collector at least this many times faster than the windowed query at 10M */
const GOAL = 20;
const COLLECTOR_OPTIONS: EventsOptions = { batchSize: 5000, maxBatchesPerScrape: 20, checkpointIntervalMs: 60_000, lookbackSeconds: 0, seriesBudgets: SERIES_BUDGET_DEFAULTS, seriesIdleMs: 3_600_000, routePatterns: [], instance: 'bench' };
const SQL_EXPORTER_APP = 'cc-bench-sql-exporter';

const started = performance.now();
const progress = (msg: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const fmt = (n: number) => n.toLocaleString('en-US');
const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : n < 100 ? n.toFixed(2) : n.toFixed(0));
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** A table printed at the end; every part of the bench contributes its own. */
interface SummaryTable {
  title: string;
  columns: string[];
  rows: string[][];
  notes: string[];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (with 10 samples the p95 is the largest). */
function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

function printTable(table: SummaryTable): void {
  const widths = table.columns.map((h, i) => Math.max(h.length, ...table.rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(`\n${table.title}`);
  console.log(line(table.columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table.rows) console.log(line(row));
  for (const note of table.notes) console.log(note);
}

// ---------------------------------------------------------------------------------------------
// The data: a realistic event mix, pseudo-random but the same on every run (hashes of the id).

const ENDPOINTS = [
  '/rest/v1/orders', '/rest/v1/order_items', '/rest/v1/menu_items', '/rest/v1/menu_categories', '/rest/v1/stores',
  '/rest/v1/store_hours', '/rest/v1/customers', '/rest/v1/profiles', '/rest/v1/addresses', '/rest/v1/carts',
  '/rest/v1/cart_items', '/rest/v1/payments', '/rest/v1/refunds', '/rest/v1/coupons', '/rest/v1/loyalty_points',
  '/rest/v1/reviews', '/rest/v1/notifications', '/rest/v1/delivery_zones', '/rest/v1/drivers', '/rest/v1/inventory',
  '/rest/v1/rpc/place_order', '/rest/v1/rpc/get_menu', '/rest/v1/rpc/apply_coupon', '/auth/v1/token', '/auth/v1/user',
  '/functions/v1/create-checkout', '/functions/v1/stripe-webhook', '/functions/v1/send-receipt', '/functions/v1/geocode', '/storage/v1/object/menu-images',
];
const PAGES = ['/', '/menu', '/menu/:category', '/cart', '/checkout', '/orders', '/orders/:id', '/account', '/login', '/stores', '/admin', '/admin/orders'];
const ACTIONS = ['add_to_cart', 'remove_from_cart', 'checkout_started', 'checkout_completed', 'apply_coupon', 'login', 'logout', 'search'];
const ERROR_TYPES = ['TypeError', 'NetworkError', 'ChunkLoadError', 'ReferenceError', 'UnhandledRejection'];

// 70% api_latency, 15% page_view, 8% user_action, 5% performance, 2% error; created_at up to $3
// seconds back from now. Ids are given ($1 on), so the load skips nextval.
const INSERT_EVENTS = `
INSERT INTO public.runtime_metrics (id, created_at, session_id, event_type, event_data)
SELECT g.i,
       now() - make_interval(secs => h.age * $3::float8),
       'bench-session-' || (g.i % 20011),
       CASE WHEN h.kind < 70 THEN 'api_latency' WHEN h.kind < 85 THEN 'page_view' WHEN h.kind < 93 THEN 'user_action'
            WHEN h.kind < 98 THEN 'performance' ELSE 'error' END,
       CASE
         WHEN h.kind < 70 THEN jsonb_build_object(
           'endpoint', ($4::text[])[1 + floor(cardinality($4::text[]) * h.u1 * h.u1)::int],
           'latency_ms', 10 + floor(2990 * h.u2 * h.u2 * h.u2)::int,
           'status', CASE WHEN h.u3 < 0.90 THEN 200 WHEN h.u3 < 0.92 THEN 201 WHEN h.u3 < 0.94 THEN 404 WHEN h.u3 < 0.95 THEN 401
                          WHEN h.u3 < 0.96 THEN 400 WHEN h.u3 < 0.975 THEN 500 WHEN h.u3 < 0.985 THEN 503 WHEN h.u3 < 0.99 THEN 502
                          ELSE 0 END,
           'method', CASE WHEN h.u4 < 0.75 THEN 'GET' WHEN h.u4 < 0.93 THEN 'POST' WHEN h.u4 < 0.98 THEN 'PATCH' ELSE 'DELETE' END)
         WHEN h.kind < 85 THEN jsonb_build_object(
           'page', ($5::text[])[1 + floor(cardinality($5::text[]) * h.u1 * h.u1)::int],
           'referrer', CASE WHEN h.u2 < 0.3 THEN 'https://www.google.com/' ELSE '' END,
           'userAgent', 'Mozilla/5.0 (X11; Linux x86_64) bench')
         WHEN h.kind < 93 THEN jsonb_build_object(
           'action', ($6::text[])[1 + floor(cardinality($6::text[]) * h.u1)::int],
           'metadata', jsonb_build_object('source', 'bench'))
         WHEN h.kind < 98 THEN jsonb_build_object(
           'metric', (ARRAY['LCP', 'INP', 'CLS', 'FCP', 'TTFB'])[1 + floor(5 * h.u1)::int],
           'value', CASE WHEN floor(5 * h.u1) = 2 THEN round((h.u2 * 0.4)::numeric, 3) ELSE round((50 + 5000 * h.u2 * h.u2)::numeric, 1) END,
           'page', ($5::text[])[1 + floor(cardinality($5::text[]) * h.u3)::int])
         ELSE jsonb_build_object(
           'error_type', ($7::text[])[1 + floor(cardinality($7::text[]) * h.u1)::int],
           'message', 'bench error ' || (g.i % 97),
           'stack', '',
           'url', 'https://app.example.com/checkout')
       END
  FROM generate_series($1::bigint, $2::bigint) AS g(i)
 CROSS JOIN LATERAL (
   SELECT abs(hashint8extended(g.i, 11) % 100) AS kind,
          abs(hashint8extended(g.i, 12) % 1000000) / 1e6::float8 AS u1,
          abs(hashint8extended(g.i, 13) % 1000000) / 1e6::float8 AS u2,
          abs(hashint8extended(g.i, 14) % 1000000) / 1e6::float8 AS u3,
          abs(hashint8extended(g.i, 15) % 1000000) / 1e6::float8 AS u4,
          abs(hashint8extended(g.i, 16) % 1000000) / 1e6::float8 AS age) AS h`;

async function insertEvents(client: pg.Client, firstId: number, count: number, spreadSeconds: number): Promise<void> {
  await client.query(INSERT_EVENTS, [firstId, firstId + count - 1, spreadSeconds, ENDPOINTS, PAGES, ACTIONS, ERROR_TYPES]);
}

/** The secondary indexes of runtime_metrics (the migrations' ones), as name and definition. */
async function secondaryIndexes(client: pg.Client): Promise<{ name: string; def: string }[]> {
  const { rows } = await client.query<{ name: string; def: string }>(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = 'public.runtime_metrics'::regclass AND NOT x.indisprimary
      ORDER BY 1`,
  );
  return rows;
}

async function allIndexDefs(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ def: string }>(
    `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'public.runtime_metrics'::regclass ORDER BY 1`,
  );
  return rows.map((r) => r.def);
}

interface TableState {
  /** rows in runtime_metrics */
  rows: number;
  nextId: number;
  /** every index definition the migrations created, to check the measured state against */
  indexes: string[];
}

/** Bulk-load up to `target` rows: secondary indexes dropped, chunks of CHUNK, indexes rebuilt, VACUUM ANALYZE. */
async function loadTo(client: pg.Client, state: TableState, target: number): Promise<void> {
  const toLoad = target - state.rows;
  const secondary = await secondaryIndexes(client);
  progress(`load: dropping ${secondary.length} secondary indexes (${secondary.map((s) => s.name).join(', ')}) for the load of ${fmt(toLoad)} rows…`);
  for (const index of secondary) await client.query(`DROP INDEX public.${index.name}`);
  const loadStart = performance.now();
  for (let done = 0; done < toLoad; ) {
    const count = Math.min(CHUNK, toLoad - done);
    await insertEvents(client, state.nextId, count, SPREAD_SECONDS);
    state.nextId += count;
    state.rows += count;
    done += count;
    const seconds = (performance.now() - loadStart) / 1000;
    progress(`load: ${fmt(done)} / ${fmt(toLoad)} rows inserted (${fmt(Math.round(done / seconds))} rows/s), table now ${fmt(state.rows)} rows`);
  }
  await client.query(`SELECT setval('public.runtime_metrics_id_seq', $1::bigint)`, [state.nextId - 1]);
  for (const index of secondary) {
    const t = performance.now();
    await client.query(index.def);
    progress(`load: rebuilt ${index.name} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const t = performance.now();
  await client.query('VACUUM ANALYZE public.runtime_metrics');
  progress(`load: VACUUM ANALYZE runtime_metrics in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const now = await allIndexDefs(client);
  if (now.join('\n') !== state.indexes.join('\n')) {
    throw new Error(`runtime_metrics indexes differ from the migrations' after the load:\n  ${now.join('\n  ')}\nexpected:\n  ${state.indexes.join('\n  ')}`);
  }
  const { rows } = await client.query<{ n: number; size: string }>(
    `SELECT count(*)::integer AS n, pg_size_pretty(pg_total_relation_size('public.runtime_metrics')) AS size FROM public.runtime_metrics`,
  );
  if (rows[0]?.n !== state.rows) throw new Error(`runtime_metrics holds ${rows[0]?.n} rows, expected ${state.rows}`);
  progress(`load: runtime_metrics holds ${fmt(state.rows)} rows, ${rows[0]?.size} with indexes (all ${state.indexes.length} indexes of the migrations present)`);
}

interface NewRows {
  tx: string;
  firstId: number;
  lastId: number;
}

/** 10,000 new rows (created now) in one statement, in a transaction whose id is returned. */
async function insertNewRows(client: pg.Client, state: TableState): Promise<NewRows> {
  await client.query('BEGIN');
  try {
    const firstId = state.nextId;
    await insertEvents(client, firstId, NEW_ROWS, 1);
    const { rows } = await client.query<{ tx: string }>('SELECT pg_current_xact_id()::text AS tx');
    await client.query('COMMIT');
    state.nextId += NEW_ROWS;
    state.rows += NEW_ROWS;
    return { tx: rows[0]!.tx, firstId, lastId: firstId + NEW_ROWS - 1 };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Wait until a transaction is settled for the cursor (older than every running transaction on
 * the server), so the timed collect reads exactly its rows. A long transaction elsewhere on the
 * server (any database) holds this back; after a minute that is reported.
 */
async function waitSettled(client: pg.Client, tx: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const { rows } = await client.query<{ settled: boolean }>('SELECT $1::xid8 < pg_snapshot_xmin(pg_current_snapshot()) AS settled', [tx]);
    if (rows[0]?.settled) return;
    if (performance.now() > deadline) {
      const { rows: holders } = await client.query<{ who: string }>(
        `SELECT format('pid %s, database %s, application %s, %s since %s', pid, datname, application_name, state, xact_start) AS who
           FROM pg_stat_activity WHERE backend_xid IS NOT NULL OR backend_xmin IS NOT NULL ORDER BY xact_start LIMIT 3`,
      );
      throw new Error(`the rows of transaction ${tx} did not settle within 60 s; oldest transactions on the server: ${holders.map((h) => h.who).join('; ')}`);
    }
    await sleep(10);
  }
}

interface Explained {
  plan: string[];
  executionMs: number;
}

async function explain(client: pg.Client, sql: string, params: unknown[]): Promise<Explained> {
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
  const plan = rows.map((r) => r['QUERY PLAN']);
  return { plan, executionMs: Number(/Execution Time: ([\d.]+) ms/.exec(plan.join('\n'))?.[1] ?? NaN) };
}

/** The collector's two queries as its last scrape ran them: a batch of the newest rows, and the pending count at the end. */
async function explainCollectorQueries(client: pg.Client, last: NewRows): Promise<{ read: Explained; pending: Explained }> {
  const read = await explain(client, READ_SETTLED, [last.tx, String(last.firstId - 1), COLLECTOR_OPTIONS.batchSize]);
  const pending = await explain(client, COUNT_PENDING, [last.tx, String(last.lastId)]);
  return { read, pending };
}

async function metricSum(registry: Registry, name: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

// ---------------------------------------------------------------------------------------------
// The reference report's approach: the windowed percentile aggregate, as the RPC and as plain SQL.

const WINDOWED_RPC = 'SELECT * FROM public.get_api_latency_stats(24)';

/** get_api_latency_stats(24) as plain SQL: what a user of a generic SQL exporter writes. */
const WINDOWED_SQL = `SELECT endpoint::text AS endpoint,
       count(*)::float8 AS request_count,
       (count(*) FILTER (WHERE status >= 500 OR status = 0))::float8 AS error_count,
       avg(latency_ms) AS avg_ms,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99_ms
  FROM (SELECT event_data ->> 'endpoint' AS endpoint,
               (event_data ->> 'latency_ms')::float8 AS latency_ms,
               coalesce((event_data ->> 'status')::integer, 0) AS status
          FROM public.runtime_metrics
         WHERE event_type = 'api_latency'
           AND created_at > now() - interval '24 hours'
           AND jsonb_typeof(event_data -> 'latency_ms') = 'number') AS calls
 GROUP BY endpoint
 ORDER BY count(*) DESC`;

interface WindowedResult {
  runs: number[];
  endpoints: number;
  requests: number;
}

async function timeWindowed(client: pg.Client): Promise<WindowedResult> {
  await client.query(WINDOWED_RPC); // warm-up, not timed
  const runs: number[] = [];
  let endpoints = 0;
  let requests = 0;
  for (let i = 0; i < WINDOWED_RUNS; i++) {
    const t = performance.now();
    const { rows } = await client.query<{ request_count: string }>(WINDOWED_RPC);
    runs.push(performance.now() - t);
    endpoints = rows.length;
    requests = rows.reduce((sum, r) => sum + Number(r.request_count), 0);
  }
  if (endpoints === 0 || requests === 0) throw new Error('get_api_latency_stats(24) returned no requests: the load did not write api_latency rows in the last 24 h');
  return { runs, endpoints, requests };
}

// ---------------------------------------------------------------------------------------------
// prometheus-sql-exporter (Debian package, github.com/justwatchcom/sql_exporter 0.4.5).
//
// It runs each job's queries in the background, right at start and then every `interval`, and
// serves the cached results on /metrics: a scrape never waits for the query. Version 0.4.5 exports
// no duration series for its queries (only sql_exporter_last_scrape_failed and build info), so the
// query's duration is read from its own debug log: the time between its "Running Query" and
// "Query finished" lines (timestamps it writes itself, RFC 3339 with nanoseconds).

type SqlExporterOutcome =
  | { ok: true; runs: number[]; scrapes: number[]; series: number; durationSeries: string[]; config: string }
  | { ok: false; reason: string };

function findSqlExporter(): { bin: string } | { reason: string } {
  const fromEnv = process.env.SQL_EXPORTER_BIN?.trim();
  if (fromEnv) return existsSync(fromEnv) ? { bin: fromEnv } : { reason: `SQL_EXPORTER_BIN=${fromEnv} does not exist` };
  const listed = spawnSync('dpkg', ['-L', 'prometheus-sql-exporter'], { encoding: 'utf8' });
  if (listed.error || listed.status !== 0) {
    const why = listed.error ? listed.error.message : listed.stderr.trim() || `dpkg -L exited with ${listed.status}`;
    return { reason: `the Debian package prometheus-sql-exporter is not installed (${why}); install it with: apt-get install -y prometheus-sql-exporter` };
  }
  const bin = listed.stdout.split('\n').find((line) => /\/bin\/[^/]+$/.test(line.trim()))?.trim();
  if (!bin || !existsSync(bin)) return { reason: 'dpkg -L prometheus-sql-exporter lists no binary' };
  return { bin };
}

function sqlExporterConfig(connectionUrl: string): string {
  const indent = (text: string, spaces: number) => text.split('\n').map((l) => ' '.repeat(spaces) + l).join('\n');
  return `# prometheus-sql-exporter config written by bench:events: one job, the 24-hour API latency report.
jobs:
  - name: cc_api_latency
    # the query runs at start and then every interval (not at scrape time)
    interval: 1s
    connections:
      - ${JSON.stringify(connectionUrl)}
    queries:
      - name: api_latency_24h
        help: ${JSON.stringify('API requests of the last 24 hours by endpoint: count, errors, mean and percentiles in ms.')}
        labels: [endpoint]
        values: [request_count, error_count, avg_ms, p50_ms, p95_ms, p99_ms]
        query: |
${indent(WINDOWED_SQL, 10)}
`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** go-kit's RFC 3339 timestamp with nanoseconds, in milliseconds since the epoch (sub-ms kept). */
function goTimestampMs(ts: unknown): number {
  const m = typeof ts === 'string' ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts) : null;
  if (!m) return NaN;
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? '0'}`) * 1000;
}

/** Terminate what the exporter left running on the server (a killed client's query runs on). */
async function endSqlExporterBackends(client: pg.Client, database: string): Promise<void> {
  await client.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()`,
    [database, SQL_EXPORTER_APP],
  );
  for (let i = 0; i < 100; i++) {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::integer AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, [
      database,
      SQL_EXPORTER_APP,
    ]);
    if (rows[0]?.n === 0) return;
    await sleep(50);
  }
}

async function measureSqlExporter(bin: string, db: BenchDatabase, admin: pg.Client, label: string): Promise<SqlExporterOutcome> {
  const dir = await mkdtemp(join(tmpdir(), 'cc-bench-sql-exporter-'));
  const url = new URL(db.connectionString);
  url.searchParams.set('sslmode', 'disable');
  url.searchParams.set('application_name', SQL_EXPORTER_APP);
  const config = sqlExporterConfig(url.toString());
  const file = join(dir, 'config.yml');
  await writeFile(file, config, { mode: 0o600 });
  const port = await freePort();
  const child = spawn(bin, ['-config.file', file, '-web.listen-address', `127.0.0.1:${port}`], {
    env: { ...process.env, LOGLEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`exited (${signal ?? `code ${code}`})`));
    child.once('error', (err) => resolve(`could not start: ${err.message}`));
  });
  const runs: number[] = [];
  const problems: string[] = [];
  const tail: string[] = [];
  let runningSince: number | undefined;
  let wake: (() => void) | undefined;
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (entry.msg === 'Running Query') runningSince = goTimestampMs(entry.ts);
    else if (entry.msg === 'Query finished' && runningSince !== undefined) {
      runs.push(goTimestampMs(entry.ts) - runningSince);
      runningSince = undefined;
      progress(`prometheus-sql-exporter, ${label}: query run ${runs.length} took ${ms(runs[runs.length - 1])} ms (its own log)`);
    } else if (entry.level === 'warn' || entry.level === 'error') problems.push(`${String(entry.msg)}${entry.err ? `: ${String(entry.err)}` : ''}`);
    wake?.();
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  const masked = config.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  try {
    const deadline = performance.now() + 180_000;
    let ended: string | undefined;
    void exited.then((why) => {
      ended = why;
      wake?.();
    });
    while (runs.length < SQL_EXPORTER_RUNS && problems.length === 0 && ended === undefined && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
    }
    if (runs.length < SQL_EXPORTER_RUNS) {
      const why = problems[0] ?? ended ?? 'timed out waiting for its query runs';
      return { ok: false, reason: `prometheus-sql-exporter: ${why}\n  last output:\n    ${tail.join('\n    ')}` };
    }
    // Scrapes: served from its cache, whatever the query costs.
    const scrapes: number[] = [];
    let body = '';
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      body = await res.text();
      scrapes.push(performance.now() - t);
      if (!res.ok) return { ok: false, reason: `prometheus-sql-exporter: GET /metrics answered ${res.status}` };
    }
    const series = body.split('\n').filter((l) => l.startsWith('sql_api_latency_24h{')).length;
    const durationSeries = [...new Set(body.split('\n').filter((l) => !l.startsWith('#') && /duration/i.test(l) && !l.startsWith('go_')).map((l) => l.split(/[{ ]/)[0] ?? ''))];
    if (series === 0) return { ok: false, reason: 'prometheus-sql-exporter: /metrics has no sql_api_latency_24h series' };
    return { ok: true, runs, scrapes, series, durationSeries, config: masked };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exited, sleep(5000).then(() => undefined)]);
      if (killed === undefined) child.kill('SIGKILL');
    }
    await endSqlExporterBackends(admin, db.name);
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// (a) + (c): scrape time per table size, the windowed query beside it, peak memory.

interface SizeResult {
  size: number;
  collect: number[];
  /** the same scrapes by a collector that keeps its counts in the process (migration 009 absent) */
  collectInMemory: number[];
  /** the same scrapes by a collector that commits a checkpoint at every scrape (EVENTS_CHECKPOINT_INTERVAL=0s) */
  collectCheckpointEach: number[];
  /** the checkpoint's size */
  checkpoint: { series: number; bytes: number };
  windowed: WindowedResult;
  plans: { read: Explained; pending: Explained };
  sqlExporter: SqlExporterOutcome;
  maxRssKiB: number;
  heapUsed: number;
}

async function measureSize(db: BenchDatabase, load: pg.Client, collectorDb: pg.Client, state: TableState, sqlExporterBin: string | undefined): Promise<SizeResult> {
  const size = state.rows;
  const label = `${fmt(size)} rows`;
  // Three collectors over the same new rows, timed in turn (the order rotates, so none always
  // finds the rows' pages cold): as configured by default (a checkpoint every minute), one that
  // commits a checkpoint at every scrape, and one that keeps its counts in the process, as
  // without migration 009 (it is told the state table is missing).
  const registry = new Registry();
  const collector = createEventsCollector(registry, COLLECTOR_OPTIONS);
  const eachRegistry = new Registry();
  const checkpointEach = createEventsCollector(eachRegistry, { ...COLLECTOR_OPTIONS, checkpointIntervalMs: 0 });
  const memoryRegistry = new Registry();
  const inMemory = createEventsCollector(memoryRegistry, COLLECTOR_OPTIONS);
  const withoutStateTable: Queryable = {
    query: (text, values) => (text === STATE_TABLE_EXISTS ? Promise.resolve({ rows: [{ ok: false }] as never[] }) : collectorDb.query(text, values)),
  };
  const runs = [
    { name: 'default', registry, collect: () => collector.collect(collectorDb), times: [] as number[] },
    { name: 'checkpoint every scrape', registry: eachRegistry, collect: () => checkpointEach.collect(collectorDb), times: [] as number[] },
    { name: 'in the process', registry: memoryRegistry, collect: () => inMemory.collect(withoutStateTable), times: [] as number[] },
  ];
  // A first start on this database: the checkpoint of the previous size would carry on.
  await load.query('TRUNCATE observability.event_counter_state');
  const before = new Map<string, number>();
  for (const run of runs) {
    await run.collect(); // the cursor starts at the end of the table
    before.set(run.name, await metricSum(run.registry, 'cc_events_total'));
    if (before.get(run.name) !== 0) throw new Error(`${label}: the first collect (${run.name}) counted ${before.get(run.name)} events, expected 0 (cursor at the end)`);
  }
  let last: NewRows | undefined;
  for (let i = 0; i < COLLECT_RUNS; i++) {
    last = await insertNewRows(load, state);
    await waitSettled(load, last.tx);
    for (let k = 0; k < runs.length; k++) {
      const run = runs[(i + k) % runs.length]!;
      const t = performance.now();
      await run.collect();
      run.times.push(performance.now() - t);
      const now = await metricSum(run.registry, 'cc_events_total');
      if (now - before.get(run.name)! !== NEW_ROWS) throw new Error(`${label}, scrape ${i + 1} (${run.name}): cc_events_total grew by ${now - before.get(run.name)!}, expected exactly ${fmt(NEW_ROWS)}`);
      before.set(run.name, now);
    }
  }
  if ((await metricSum(memoryRegistry, 'cc_events_counts_persisted')) !== 0) throw new Error(`${label}: the in-process collector committed its counts`);
  const [collect, collectCheckpointEach, collectInMemory] = runs.map((r) => r.times) as [number[], number[], number[]];
  const pending = await metricSum(registry, 'cc_events_pending');
  progress(`collector, ${label}: ${COLLECT_RUNS} scrapes timed (each after ${fmt(NEW_ROWS)} new rows), cc_events_total +${fmt(NEW_ROWS)} each time, cc_events_pending ${pending}; median ${ms(median(collect))} ms`);
  const { rows: [committed] } = await load.query<{ bytes: number; series: number }>(
    `SELECT octet_length(counts::text) AS bytes,
            (SELECT count(*) FROM json_each(counts->'counters') c, json_array_elements(c.value))::integer
          + (SELECT count(*) FROM json_each(counts->'histograms') h, json_array_elements(h.value))::integer AS series
       FROM observability.event_counter_state`,
  );
  const checkpoint = { series: committed?.series ?? 0, bytes: committed?.bytes ?? 0 };
  progress(`collector, ${label}: the checkpoint holds ${fmt(checkpoint.series)} series in ${fmt(checkpoint.bytes)} bytes of JSON`);
  progress(`collector keeping its counts in the process, ${label}: median ${ms(median(collectInMemory))} ms; the default collector (a checkpoint a minute) adds ${ms(median(collect) - median(collectInMemory))} ms to the median`);
  progress(`collector committing a checkpoint at every scrape, ${label}: median ${ms(median(collectCheckpointEach))} ms, ${ms(median(collectCheckpointEach) - median(collectInMemory))} ms above the one in the process`);
  const plans = await explainCollectorQueries(collectorDb, last!);
  progress(`collector, ${label}: EXPLAIN ANALYZE: READ_SETTLED (${fmt(COLLECTOR_OPTIONS.batchSize)} rows) ${ms(plans.read.executionMs)} ms, COUNT_PENDING ${ms(plans.pending.executionMs)} ms on the server`);

  const windowed = await timeWindowed(collectorDb);
  progress(`get_api_latency_stats(24), ${label}: ${WINDOWED_RUNS} runs timed, median ${ms(median(windowed.runs))} ms (${windowed.endpoints} endpoints, ${fmt(windowed.requests)} requests in the window)`);

  let sqlExporter: SqlExporterOutcome;
  if (sqlExporterBin) {
    progress(`prometheus-sql-exporter, ${label}: starting ${sqlExporterBin}, waiting for ${SQL_EXPORTER_RUNS} runs of its query…`);
    sqlExporter = await measureSqlExporter(sqlExporterBin, db, load, label);
    if (!sqlExporter.ok) progress(`prometheus-sql-exporter, ${label}: not measured: ${sqlExporter.reason}`);
  } else sqlExporter = { ok: false, reason: 'not installed' };

  const maxRssKiB = process.resourceUsage().maxRSS;
  const heapUsed = process.memoryUsage().heapUsed;
  progress(`memory after ${label}: peak RSS ${fmt(maxRssKiB)} KiB, heap used ${mib(heapUsed)}`);
  return { size, collect, collectInMemory, collectCheckpointEach, checkpoint, windowed, plans, sqlExporter, maxRssKiB, heapUsed };
}

interface BenchContext {
  db: BenchDatabase;
  summaries: SummaryTable[];
}

async function benchScrape(ctx: BenchContext): Promise<void> {
  const found = findSqlExporter();
  const sqlExporterBin = 'bin' in found ? found.bin : undefined;
  if (!sqlExporterBin) progress(`prometheus-sql-exporter will not be measured: ${'reason' in found ? found.reason : ''}`);

  const load = new pg.Client({ connectionString: ctx.db.connectionString, application_name: 'cc-bench-load' });
  const collectorDb = new pg.Client({ connectionString: ctx.db.connectionString, application_name: 'cc-bench-collector' });
  await load.connect();
  await collectorDb.connect();
  try {
    // The load session only: commits need not wait for the WAL flush, index builds get memory.
    await load.query(`SET synchronous_commit = off; SET maintenance_work_mem = '512MB'`);
    const state: TableState = { rows: 0, nextId: 1, indexes: await allIndexDefs(load) };
    const { rows: existing } = await load.query<{ n: number; max: string | null }>('SELECT count(*)::integer AS n, max(id)::text AS max FROM public.runtime_metrics');
    state.rows = existing[0]?.n ?? 0;
    state.nextId = Number(existing[0]?.max ?? 0) + 1;

    const results: SizeResult[] = [];
    for (const size of SIZES) {
      await loadTo(load, state, size);
      results.push(await measureSize(ctx.db, load, collectorDb, state, sqlExporterBin));
    }
    ctx.summaries.push(scrapeSummary(results, sqlExporterBin ? undefined : 'reason' in found ? found.reason : undefined));
  } finally {
    await collectorDb.end();
    await load.end();
  }
}

function scrapeSummary(results: SizeResult[], sqlExporterMissing: string | undefined): SummaryTable {
  const columns = ['(a) scrape cost, ms', ...results.map((r) => `${fmt(r.size)} rows`)];
  const row = (name: string, cell: (r: SizeResult) => string) => [name, ...results.map(cell)];
  const sqlx = (r: SizeResult, f: (o: Extract<SqlExporterOutcome, { ok: true }>) => string) => (r.sqlExporter.ok ? f(r.sqlExporter) : 'n/a');
  const rows = [
    row(`event collector collect(), median of ${COLLECT_RUNS}`, (r) => ms(median(r.collect))),
    row(`event collector collect(), p95 (nearest rank)`, (r) => ms(percentile(r.collect, 0.95))),
    row(`event collector collect(), max`, (r) => ms(Math.max(...r.collect))),
    row(`  the same scrapes, counts kept in the process (as without migration 009), median`, (r) => ms(median(r.collectInMemory))),
    row('  the default (a checkpoint a minute) adds (medians)', (r) => ms(median(r.collect) - median(r.collectInMemory))),
    row(`  the same scrapes, a checkpoint at every scrape, median`, (r) => ms(median(r.collectCheckpointEach))),
    row('  a checkpoint at every scrape adds (medians)', (r) => ms(median(r.collectCheckpointEach) - median(r.collectInMemory))),
    row('  the checkpoint: series / bytes of JSON', (r) => `${fmt(r.checkpoint.series)} / ${fmt(r.checkpoint.bytes)}`),
    row(`  server time of its SQL: 2 x READ_SETTLED + COUNT_PENDING`, (r) => ms(2 * r.plans.read.executionMs + r.plans.pending.executionMs)),
    row(`get_api_latency_stats(24), median of ${WINDOWED_RUNS}`, (r) => ms(median(r.windowed.runs))),
    row('  windowed / collector (medians)', (r) => `${(median(r.windowed.runs) / median(r.collect)).toFixed(1)}x`),
    row(`prometheus-sql-exporter query, median of ${SQL_EXPORTER_RUNS} (own log)`, (r) => sqlx(r, (o) => ms(median(o.runs)))),
    row('prometheus-sql-exporter GET /metrics, median of 5', (r) => sqlx(r, (o) => ms(median(o.scrapes)))),
    row('(c) peak RSS of this process, KiB', (r) => fmt(r.maxRssKiB)),
    row('(c) heap used after the size, MiB', (r) => (r.heapUsed / 1024 / 1024).toFixed(1)),
  ];
  const first = results[0];
  const last = results[results.length - 1];
  const notes: string[] = [];
  if (first && last) {
    const collectRatio = median(last.collect) / median(first.collect);
    const windowedRatio = median(last.windowed.runs) / median(first.windowed.runs);
    const goal = median(last.windowed.runs) / median(last.collect);
    notes.push(`collector median ${fmt(last.size)} / ${fmt(first.size)}: ${collectRatio.toFixed(2)}x (the windowed query: ${windowedRatio.toFixed(2)}x)`);
    notes.push(
      `goal, collector at least ${GOAL}x faster than the windowed query at ${fmt(last.size)} rows: ${goal.toFixed(1)}x, ${goal >= GOAL ? 'met' : 'NOT met'}`,
    );
  }
  if (last) {
    notes.push(`EXPLAIN (ANALYZE, BUFFERS) of the collector's queries at ${fmt(last.size)} rows, as its last scrape ran them:`);
    notes.push(`  READ_SETTLED (a batch of ${fmt(COLLECTOR_OPTIONS.batchSize)}):`, ...last.plans.read.plan.map((l) => `    ${l}`));
    notes.push('  COUNT_PENDING (cursor at the end):', ...last.plans.pending.plan.map((l) => `    ${l}`));
  }
  notes.push(
    `each collect() reads the ${fmt(NEW_ROWS)} rows inserted since the previous one (batches of ${COLLECTOR_OPTIONS.batchSize}) and counts the pending rows; ` +
      `cc_events_total grew by exactly ${fmt(NEW_ROWS)} after every timed collect.`,
  );
  if (sqlExporterMissing) notes.push(`prometheus-sql-exporter not measured: ${sqlExporterMissing}`);
  else {
    const ok = results.find((r) => r.sqlExporter.ok)?.sqlExporter;
    const failed = results.filter((r) => !r.sqlExporter.ok);
    notes.push(
      'prometheus-sql-exporter runs its query in the background at start and then every `interval`, and serves the cached result: ' +
        'GET /metrics never waits for the query, so its scrape time is not the query cost; the query cost is paid every interval, ' +
        'and the values are up to one interval (+ the query time) old.',
    );
    if (ok?.ok) {
      notes.push(
        ok.durationSeries.length
          ? `its /metrics has duration series: ${ok.durationSeries.join(', ')}`
          : 'its /metrics exports no query-duration series (0.4.5); the query time is taken from its own debug log (LOGLEVEL=debug): "Running Query" to "Query finished".',
      );
      for (const r of results) if (r.sqlExporter.ok) notes.push(`  ${fmt(r.size)} rows: query runs ${r.sqlExporter.runs.map(ms).join(', ')} ms; ${r.sqlExporter.series} sql_api_latency_24h series`);
    }
    for (const r of failed) if (!r.sqlExporter.ok) notes.push(`  ${fmt(r.size)} rows: not measured: ${r.sqlExporter.reason}`);
    if (ok?.ok) notes.push(`its config (written to a temp dir, password masked here):\n${ok.config.trimEnd().replace(/^/gm, '    ')}`);
  }
  return { title: 'Summary: event collector vs the windowed query', columns, rows, notes };
}

// ---------------------------------------------------------------------------------------------
// (b) + (c): OTLP ingest throughput of one exporter process, fed by a load generator in another
// process over loopback, beside raw COPY of the same rows; the exporter's peak memory.

/** the project's goals for the receiver: spans per second, and its share of raw COPY's rows per second */
const INGEST_GOAL_SPANS_PER_SECOND = 20_000;
const INGEST_GOAL_COPY_SHARE = 0.3;
const INGEST_WARMUP_SECONDS = 3;
/** rows of the receiver's output taken as the COPY sample, and how many times it is sent in one COPY */
const COPY_SAMPLE_ROWS = 100_000;
const COPY_REPEAT = 5;
const COPY_RUNS = 3;
/** the exporter's environment beyond its defaults: no event collector (it only ingests), no rate limit */
const EXPORTER_ENV = {
  EXPORTER_PORT: '0',
  EXPORTER_HOST: '127.0.0.1',
  OTLP_RATE_LIMIT_PER_MINUTE: '0',
  COLLECTORS: 'orders,deployments,database',
  LOG_LEVEL: 'warn',
};

interface IngestSetting {
  concurrency: number;
  spansPerRequest: number;
}

/** BENCH_INGEST_SETTINGS ("8x100,16x200": concurrency x spans per request), else 4/8/16 x 50/100/200. */
function ingestSettings(): IngestSetting[] {
  const raw = process.env.BENCH_INGEST_SETTINGS?.trim();
  if (!raw) return [4, 8, 16].flatMap((concurrency) => [50, 100, 200].map((spansPerRequest) => ({ concurrency, spansPerRequest })));
  return raw.split(',').map((item) => {
    const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/.exec(item);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`BENCH_INGEST_SETTINGS: "${item}" is not <concurrency>x<spansPerRequest>`);
    return { concurrency: Number(m[1]), spansPerRequest: Number(m[2]) };
  });
}

function ingestSeconds(): number {
  const raw = process.env.BENCH_INGEST_SECONDS?.trim() || '15';
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) throw new Error(`BENCH_INGEST_SECONDS must be a whole number of seconds from 1 to 600, got "${raw}"`);
  return seconds;
}

/**
 * CPU seconds used so far by the processes named postgres on this machine (the server and its
 * backends), when the server runs here; a backend that exits between two readings takes its
 * time with it, so this is a lower bound.
 */
function postgresCpuSeconds(): number | undefined {
  let total = 0;
  let found = false;
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = procStat(entry);
      if (stat?.comm !== 'postgres') continue;
      found = true;
      total += stat.cpu;
    }
  } catch {
    return undefined;
  }
  return found ? total : undefined;
}

async function maxId(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ id: string }>('SELECT coalesce(max(id), 0)::text AS id FROM public.runtime_metrics');
  return rows[0]?.id ?? '0';
}

async function rowsAfter(client: pg.Client, id: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::integer AS n FROM public.runtime_metrics WHERE id > $1', [id]);
  return rows[0]?.n ?? 0;
}

interface Calibration {
  spansPerRequest: number;
  rowsPerRequest: number;
  /** rows of one request by event_type */
  mix: string;
  bodyBytes: number;
}

/**
 * The rows one request of each size makes: every variant of the generator's requests is posted
 * once and its rows counted (they must agree, or the row check after a run means nothing).
 */
async function calibrate(admin: pg.Client, url: string, spanCounts: number[]): Promise<Calibration[]> {
  const out: Calibration[] = [];
  for (const spans of spanCounts) {
    let rowsPerRequest: number | undefined;
    let mix = '';
    let bodyBytes = 0;
    for (let variant = 0; variant < REQUEST_VARIANTS; variant++) {
      const before = await maxId(admin);
      const body = JSON.stringify(buildRequest(spans, variant));
      bodyBytes += body.length / REQUEST_VARIANTS;
      const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const answer = await res.text();
      if (res.status !== 200 || answer !== '{}') throw new Error(`calibration: a request of ${spans} spans (variant ${variant}) was answered ${res.status} ${answer}`);
      const rows = await rowsAfter(admin, before);
      if (rowsPerRequest !== undefined && rows !== rowsPerRequest) {
        throw new Error(`calibration: variant ${variant} of ${spans} spans made ${rows} rows, variant 0 made ${rowsPerRequest}: the variants must map to the same rows`);
      }
      if (rowsPerRequest === undefined) {
        const { rows: kinds } = await admin.query<{ t: string; n: number }>(
          'SELECT event_type AS t, count(*)::integer AS n FROM public.runtime_metrics WHERE id > $1 GROUP BY 1 ORDER BY 2 DESC, 1',
          [before],
        );
        mix = kinds.map((k) => `${k.t} ${k.n}`).join(', ');
      }
      rowsPerRequest = rows;
    }
    out.push({ spansPerRequest: spans, rowsPerRequest: rowsPerRequest ?? 0, mix, bodyBytes: Math.round(bodyBytes) });
    progress(`ingest: a request of ${spans} spans (${fmt(Math.round(bodyBytes))} bytes of JSON) makes ${rowsPerRequest} rows (${mix}), the same for all ${REQUEST_VARIANTS} variants`);
  }
  return out;
}

interface IngestRun {
  setting: IngestSetting;
  load: LoadResult;
  rowsPerRequest: number;
  /** rows the table grew by over the run, and what the generator's accepted spans say it must have */
  rowsGrown: number;
  rowsExpected: number;
  /** cores busy over the run (warm-up included): the exporter, Postgres's processes, the whole machine, and what none of the bench's own processes account for */
  exporterCpu: number | undefined;
  postgresCpu: number | undefined;
  machineBusy: number | undefined;
  otherCpu: number | undefined;
  maxRssKiB: number | undefined;
}

interface CopyRun {
  rows: number;
  seconds: number;
  /** cores busy during the COPY: Postgres's processes, the whole machine */
  postgresCpu: number | undefined;
  machineBusy: number | undefined;
}

interface IngestResult {
  runs: IngestRun[];
  calibrations: Calibration[];
  copy: CopyRun[];
  copyBytes: number;
  exporterHwmKiB: number | undefined;
  /** the exporter's RSS once it listened, before any request */
  exporterIdleRssKiB: number | undefined;
  benchMaxRssKiB: number;
  tableRowsBefore: number;
  exporterOutput: string[];
  stopped: string;
  role: string;
  seconds: number;
}

async function benchIngest(ctx: BenchContext): Promise<void> {
  const settings = ingestSettings();
  const seconds = ingestSeconds();
  const cpuProfDir = process.env.BENCH_INGEST_CPU_PROF?.trim();
  const admin = new pg.Client({ connectionString: ctx.db.connectionString, application_name: 'cc-bench-ingest' });
  await admin.connect();
  try {
    const { rows: sizeRows } = await admin.query<{ n: number }>('SELECT count(*)::integer AS n FROM public.runtime_metrics');
    const tableRowsBefore = sizeRows[0]?.n ?? 0;
    const firstId = await maxId(admin);
    // Part (a) writes its rows with explicit ids; the receiver's rows take theirs from the sequence.
    if (firstId !== '0') await admin.query(`SELECT setval('public.runtime_metrics_id_seq', $1::bigint)`, [firstId]);
    const login = await createExporterLogin(admin, ctx.db);
    let exporter: ExporterChild | undefined;
    try {
      const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
      exporter = await startExporterChild(login.connectionString, nodeArgs, EXPORTER_ENV);
      progress(
        `ingest: exporter pid ${exporter.pid} listening at ${exporter.url}, connected as ${login.role} (acts as cc_exporter)` +
          `${cpuProfDir ? `, CPU profile to ${cpuProfDir}` : ''}; runtime_metrics holds ${fmt(tableRowsBefore)} rows`,
      );
      const exporterIdleRssKiB = procStatusKiB(exporter.pid, 'VmRSS');
      const running = exporter;
      const calibrations = await calibrate(admin, exporter.url, [...new Set(settings.map((s) => s.spansPerRequest))]).catch((err: Error) => {
        throw new Error(`${err.message}\n  the exporter wrote:\n    ${running.output.slice(-10).map(truncateLine).join('\n    ')}`);
      });
      const runs: IngestRun[] = [];
      for (const setting of settings) {
        const rowsPerRequest = calibrations.find((c) => c.spansPerRequest === setting.spansPerRequest)?.rowsPerRequest ?? 0;
        const before = await maxId(admin);
        const pid = exporter.pid;
        let maxRssKiB = procStatusKiB(pid, 'VmRSS');
        const sampler = setInterval(() => {
          const rss = procStatusKiB(pid, 'VmRSS');
          if (rss !== undefined) maxRssKiB = Math.max(maxRssKiB ?? 0, rss);
        }, 200);
        const cpu0 = procStat(pid)?.cpu;
        const pg0 = postgresCpuSeconds();
        const self0 = process.cpuUsage();
        const machine0 = machineCpuSeconds();
        const t0 = performance.now();
        let load: LoadResult;
        try {
          load = await runLoadGenerator(exporter.url, seconds, { ...setting, warmupSeconds: INGEST_WARMUP_SECONDS });
        } finally {
          clearInterval(sampler);
        }
        const wall = (performance.now() - t0) / 1000;
        const cpu1 = procStat(pid)?.cpu;
        const pg1 = postgresCpuSeconds();
        const self1 = process.cpuUsage(self0);
        const machine1 = machineCpuSeconds();
        const rowsGrown = await rowsAfter(admin, before);
        const run: IngestRun = {
          setting,
          load,
          rowsPerRequest,
          rowsGrown,
          rowsExpected: load.total.rejectedSpans === 0 ? load.total.okRequests * rowsPerRequest : NaN,
          exporterCpu: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / wall : undefined,
          postgresCpu: pg0 !== undefined && pg1 !== undefined ? (pg1 - pg0) / wall : undefined,
          machineBusy: machine0 && machine1 ? (machine1.busy - machine0.busy) / wall : undefined,
          otherCpu: undefined,
          maxRssKiB,
        };
        if (run.machineBusy !== undefined && run.exporterCpu !== undefined && run.postgresCpu !== undefined) {
          run.otherCpu = Math.max(0, run.machineBusy - run.exporterCpu - run.postgresCpu - load.cpuSeconds / wall - (self1.user + self1.system) / 1e6 / wall);
        }
        runs.push(run);
        const failures = Object.entries(load.failures).map(([k, n]) => `${k} x${n}`).join(', ');
        progress(
          `ingest: concurrency ${setting.concurrency}, ${setting.spansPerRequest} spans/request: ${fmt(Math.round(load.measured.spansPerSecond))} spans/s ` +
            `(${fmt(Math.round(load.measured.requestsPerSecond))} requests/s, p50 ${ms(load.measured.latencyMs.p50)} ms, p99 ${ms(load.measured.latencyMs.p99)} ms` +
            `${failures ? `, not 200: ${failures}` : ''}); rows +${fmt(rowsGrown)}, expected ${fmt(run.rowsExpected)} ` +
            `(${fmt(load.total.acceptedSpans)} spans accepted x ${(rowsPerRequest / setting.spansPerRequest).toFixed(2)}) ${rowsGrown === run.rowsExpected ? 'ok' : 'MISMATCH'}`,
        );
        progress(`ingest:   ${JSON.stringify(load)}`);
      }
      const exporterHwmKiB = procStatusKiB(exporter.pid, 'VmHWM');
      const exporterOutput = [...exporter.output];
      const stopped = await exporter.stop();
      exporter = undefined;
      progress(`ingest: exporter stopped (${stopped}); its peak RSS (VmHWM) ${exporterHwmKiB === undefined ? 'n/a' : `${fmt(exporterHwmKiB)} KiB`}`);

      const { copy, copyBytes } = await benchCopy(admin, firstId);
      const benchMaxRssKiB = process.resourceUsage().maxRSS;
      progress(`memory after (b): peak RSS of this process ${fmt(benchMaxRssKiB)} KiB`);
      ctx.summaries.push(
        ingestSummary({ runs, calibrations, copy, copyBytes, exporterHwmKiB, exporterIdleRssKiB, benchMaxRssKiB, tableRowsBefore, exporterOutput, stopped, role: login.role, seconds }),
      );
    } finally {
      if (exporter) await exporter.stop();
      await login.drop();
    }
  } finally {
    await admin.end();
  }
}

/**
 * Raw COPY of the receiver's own rows: a sample of what it wrote (after `firstId`), sent
 * COPY_REPEAT times in one COPY … FROM STDIN (text format) through pg-copy-streams on one
 * connection, COPY_RUNS times.
 */
async function benchCopy(admin: pg.Client, firstId: string): Promise<{ copy: CopyRun[]; copyBytes: number }> {
  const columns = 'created_at, session_id, event_type, event_data';
  const chunks: Buffer[] = [];
  await pipeline(
    admin.query(copyTo(`COPY (SELECT ${columns} FROM public.runtime_metrics WHERE id > ${BigInt(firstId)} ORDER BY id LIMIT ${COPY_SAMPLE_ROWS}) TO STDOUT`)),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  const sample = Buffer.concat(chunks);
  const sampleRows = sample.reduce((n, byte) => (byte === 0x0a ? n + 1 : n), 0);
  progress(`copy: sample of ${fmt(sampleRows)} rows the receiver wrote (${mib(sample.length)} as COPY text), sent ${COPY_REPEAT} times per COPY`);
  const copy: CopyRun[] = [];
  for (let run = 0; run < COPY_RUNS; run++) {
    const pg0 = postgresCpuSeconds();
    const machine0 = machineCpuSeconds();
    const t = performance.now();
    const stream = admin.query(copyFrom(`COPY public.runtime_metrics (${columns}) FROM STDIN`));
    await pipeline(Readable.from(Array.from({ length: COPY_REPEAT }, () => sample)), stream);
    const seconds = (performance.now() - t) / 1000;
    const pg1 = postgresCpuSeconds();
    const machine1 = machineCpuSeconds();
    if (stream.rowCount !== sampleRows * COPY_REPEAT) throw new Error(`COPY stored ${stream.rowCount} rows, expected ${sampleRows * COPY_REPEAT}`);
    const c: CopyRun = {
      rows: stream.rowCount,
      seconds,
      postgresCpu: pg0 !== undefined && pg1 !== undefined ? (pg1 - pg0) / seconds : undefined,
      machineBusy: machine0 && machine1 ? (machine1.busy - machine0.busy) / seconds : undefined,
    };
    copy.push(c);
    progress(
      `copy: run ${run + 1}: ${fmt(c.rows)} rows in ${seconds.toFixed(2)} s, ${fmt(Math.round(c.rows / seconds))} rows/s ` +
        `(Postgres ${c.postgresCpu?.toFixed(2) ?? 'n/a'} cores, machine ${c.machineBusy?.toFixed(2) ?? 'n/a'} cores busy)`,
    );
  }
  return { copy, copyBytes: sample.length * COPY_REPEAT };
}

function ingestSummary(r: IngestResult): SummaryTable {
  const k = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : fmt(Math.round(n)));
  const cores = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));
  const rowsPerSpan = (run: IngestRun) => run.rowsPerRequest / run.setting.spansPerRequest;
  const columns = [
    `(b) OTLP ingest, ${r.seconds} s after ${INGEST_WARMUP_SECONDS} s warm-up`,
    'spans/s',
    'rows/s',
    'requests/s',
    'p50 ms',
    'p99 ms',
    'not 200',
    'exporter CPU',
    'Postgres CPU',
    'loadgen CPU',
    'other CPU',
    'machine busy',
    'exporter max RSS KiB',
    'rows check',
  ];
  const rows = r.runs.map((run) => [
    `concurrency ${run.setting.concurrency}, ${run.setting.spansPerRequest} spans/request`,
    k(run.load.measured.spansPerSecond),
    k(run.load.measured.spansPerSecond * rowsPerSpan(run)),
    k(run.load.measured.requestsPerSecond),
    ms(run.load.measured.latencyMs.p50),
    ms(run.load.measured.latencyMs.p99),
    Object.entries(run.load.failures).map(([s, n]) => `${s} x${n}`).join(' ') || '0',
    cores(run.exporterCpu),
    cores(run.postgresCpu),
    cores(run.load.cpuSeconds / run.load.wallSeconds),
    cores(run.otherCpu),
    cores(run.machineBusy),
    k(run.maxRssKiB),
    run.rowsGrown === run.rowsExpected ? 'exact' : `MISMATCH ${fmt(run.rowsGrown)} vs ${fmt(run.rowsExpected)}`,
  ]);
  const best = [...r.runs].sort((a, b) => b.load.measured.spansPerSecond - a.load.measured.spansPerSecond)[0];
  const copyRates = r.copy.map((c) => c.rows / c.seconds);
  const copyRate = median(copyRates);
  const notes: string[] = [];
  for (const c of r.calibrations) {
    notes.push(`a request of ${c.spansPerRequest} spans (${fmt(c.bodyBytes)} bytes of OTLP/JSON) makes ${c.rowsPerRequest} rows (${(c.rowsPerRequest / c.spansPerRequest).toFixed(2)} per span): ${c.mix}`);
  }
  notes.push(
    `CPU columns are cores busy over the run (warm-up included), from /proc: the exporter process, the processes named postgres (when the server runs here), ` +
      `the load generator, what none of the bench's processes account for (other processes, the kernel's softirq work), and the whole machine (${cpus().length} CPUs).`,
  );
  const busyElsewhere = r.runs.filter((run) => (run.otherCpu ?? 0) > 0.25);
  if (busyElsewhere.length > 0) {
    notes.push(
      `NOTE: during ${busyElsewhere.length} of ${r.runs.length} runs other processes used more than a quarter of a core ` +
        `(up to ${cores(Math.max(...busyElsewhere.map((run) => run.otherCpu ?? 0)))}): those figures are understated; rerun on a quiet machine.`,
    );
  }
  const mismatches = r.runs.filter((run) => run.rowsGrown !== run.rowsExpected);
  notes.push(
    mismatches.length === 0
      ? 'rows check: after every run runtime_metrics grew by exactly (200 answers of the run, warm-up included) x (rows per request), = spans accepted x rows per span.'
      : `rows check FAILED for ${mismatches.length} run(s): the table did not grow by accepted spans x rows per span.`,
  );
  if (mismatches.length > 0) process.exitCode = 1;
  notes.push(
    `raw COPY (pg-copy-streams 7.0.0, text format, one connection, superuser, into runtime_metrics with its indexes): ${r.copy.length} runs of ` +
      `${fmt(r.copy[0]?.rows ?? 0)} rows (${COPY_REPEAT} x a sample of ${fmt((r.copy[0]?.rows ?? 0) / COPY_REPEAT)} rows the receiver wrote, ${mib(r.copyBytes)}): ` +
      `${copyRates.map((x) => fmt(Math.round(x))).join(', ')} rows/s, median ${fmt(Math.round(copyRate))} rows/s; ` +
      `Postgres busy ${r.copy.map((c) => c.postgresCpu?.toFixed(2) ?? 'n/a').join(', ')} cores, the machine ${r.copy.map((c) => c.machineBusy?.toFixed(2) ?? 'n/a').join(', ')}`,
  );
  if (best) {
    const bestRows = best.load.measured.spansPerSecond * rowsPerSpan(best);
    const share = bestRows / copyRate;
    notes.push(
      `best: concurrency ${best.setting.concurrency}, ${best.setting.spansPerRequest} spans/request: ${fmt(Math.round(best.load.measured.spansPerSecond))} spans/s ` +
        `x ${rowsPerSpan(best).toFixed(2)} rows/span = ${fmt(Math.round(bestRows))} rows/s; receiver / COPY = ${(share * 100).toFixed(1)}%`,
    );
    const spansMet = best.load.measured.spansPerSecond >= INGEST_GOAL_SPANS_PER_SECOND;
    const shareMet = share >= INGEST_GOAL_COPY_SHARE;
    notes.push(
      `goal, at least ${fmt(INGEST_GOAL_SPANS_PER_SECOND)} spans/s: ${spansMet ? 'met' : 'NOT met'}; at least ${INGEST_GOAL_COPY_SHARE * 100}% of raw COPY's rows/s: ${shareMet ? 'met' : 'NOT met'}`,
    );
  }
  notes.push(
    `(c) exporter process peak RSS (VmHWM at the end of (b)): ${r.exporterHwmKiB === undefined ? 'n/a' : `${fmt(r.exporterHwmKiB)} KiB (${mib(r.exporterHwmKiB * 1024)})`}, ` +
      `${r.exporterIdleRssKiB === undefined ? '' : `RSS ${fmt(r.exporterIdleRssKiB)} KiB once listening, before any request; `}` +
      `this bench process's peak RSS: ${fmt(r.benchMaxRssKiB)} KiB`,
  );
  notes.push(
    `one exporter process (node exporter/dist/server.js, ${Object.entries(EXPORTER_ENV).map(([key, v]) => `${key}=${v}`).join(' ')}, ` +
      `DB_POOL_MAX=${process.env.DB_POOL_MAX?.trim() || DEFAULTS.DB_POOL_MAX}), logged in as ${r.role}, a throwaway member of cc_exporter whose sessions SET role cc_exporter; ` +
      `the load generator (node exporter/dist/bench/ingest-load.js) in another process, keep-alive HTTP/1.1 over loopback, ${REQUEST_VARIANTS} request variants sent in turn; ` +
      `runtime_metrics held ${fmt(r.tableRowsBefore)} rows at the start of (b).`,
  );
  notes.push(`exporter stopped: ${r.stopped}; it wrote ${r.exporterOutput.length} line(s) at LOG_LEVEL=warn while serving${r.exporterOutput.length ? ':' : '.'}`);
  for (const line of r.exporterOutput.slice(0, 5)) notes.push(`  ${truncateLine(line)}`);
  return { title: 'Summary: OTLP ingest throughput (one exporter process) vs raw COPY', columns, rows, notes };
}

function truncateLine(line: string): string {
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

// ---------------------------------------------------------------------------------------------

const BENCH_PARTS = ['scrape', 'ingest'] as const;
type BenchPart = (typeof BENCH_PARTS)[number];

/** BENCH_PARTS, a comma-separated subset of scrape and ingest; unset or empty means both. */
function benchParts(raw: string | undefined): Set<BenchPart> {
  const names = (raw ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (names.length === 0) return new Set(BENCH_PARTS);
  const unknown = names.filter((p) => !(BENCH_PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_PARTS: unknown part(s) ${unknown.join(', ')} (known: ${BENCH_PARTS.join(', ')})`);
  return new Set(names as BenchPart[]);
}

async function main(): Promise<void> {
  const serverUrl = process.env.BENCH_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  if (!serverUrl) {
    console.error(
      'bench:events needs a Postgres server: set BENCH_DATABASE_URL (or TEST_DATABASE_URL), e.g.\n' +
        '  BENCH_DATABASE_URL=postgres://postgres:devpass@127.0.0.1:5432/postgres npm run bench:events\n' +
        'It creates a fresh database there, loads 10,000,000 rows (about 3 GB) for part (a), and drops the database at the end.\n' +
        'BENCH_PARTS=scrape or BENCH_PARTS=ingest runs one part (default both).',
    );
    process.exitCode = 2;
    return;
  }
  let parts: Set<BenchPart>;
  try {
    parts = benchParts(process.env.BENCH_PARTS);
  } catch (err) {
    console.error(`bench:events: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const db = await openDatabase(serverUrl);
  const ctx: BenchContext = { db, summaries: [] };
  try {
    const version = await withClient(db.connectionString, async (client) => {
      progress('applying sql/app and the migrations…');
      await applySqlDir(client, sqlPaths.app);
      await migrate(client, { logger: createLogger('silent') });
      const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
      return rows[0]?.v ?? '?';
    });
    console.log(`database: Postgres ${version} at ${db.host}, database ${db.name} (dropped at the end); node ${process.version}, ${cpus().length} CPUs`);
    console.log(`parts: ${[...parts].join(', ')}`);
    if (parts.has('scrape')) await benchScrape(ctx);
    if (parts.has('ingest')) await benchIngest(ctx);
  } finally {
    progress(`dropping database ${db.name}…`);
    await db.stop();
  }
  for (const summary of ctx.summaries) printTable(summary);
  const shown = new URL(serverUrl);
  if (shown.password) shown.password = '***';
  console.log(`\nwhole run: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const partsEnv = process.env.BENCH_PARTS?.trim() ? `BENCH_PARTS=${process.env.BENCH_PARTS.trim()} ` : '';
  console.log(`reproduce with: BENCH_DATABASE_URL=${shown.toString()} ${partsEnv}npm run bench:events`);
}

main().catch((err: unknown) => {
  console.error(`bench:events failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});

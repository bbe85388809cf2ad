// npm run load: the exporter as one process under sustained OTLP ingest at the benchmarked rate
// (BENCHMARKS.md, bench:events part (b): 4 connections x 200 spans) while Prometheus scrapes
// /metrics every second, for LOAD_SECONDS (default 60). On loopback, bounded in time; a fresh
// database on the server of BENCH_DATABASE_URL (or TEST_DATABASE_URL), dropped at the end.
// Prints errors, p99 latency of ingest and of scrapes, the exporter's event-loop delay (the p99
// of each scrape's nodejs_eventloop_lag_p99_seconds: the delay since the scrape before), its peak
// memory (VmHWM) and the rows found in runtime_metrics against the rows the accepted requests promise.
//   LOAD_SECONDS           measured seconds (default 60; 1..600)
//   LOAD_SPANS_PER_SECOND  the ingest pace (default 61760, the benchmarked rate)
//   LOAD_CONCURRENCY       requests in flight at most (default 4)
//   LOAD_SPANS_PER_REQUEST spans per request (default 200)
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { createLogger } from '../src/log.js';
import { applySqlDir, migrate } from '../src/migrate.js';
import { sqlPaths } from '../src/paths.js';
import { withClient } from './database.js';
import { buildRequest, DEFAULT_WARMUP_SECONDS, type LoadResult } from './ingest-load.js';
import { createExporterLogin, machineCpuSeconds, openDatabase, procStat, procStatusKiB, runLoadGenerator, startExporterChild, type ExporterChild } from './processes.js';

/** bench:events part (b), 4 x 200: the benchmarked rate in BENCHMARKS.md */
const BENCHMARKED_SPANS_PER_SECOND = 61_760;
const SCRAPE_INTERVAL_MS = 1000;
/** Prometheus' default scrape_timeout */
const SCRAPE_TIMEOUT_MS = 10_000;

const started = performance.now();
const progress = (msg: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (kib: number | undefined) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);
const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : n < 100 ? n.toFixed(1) : n.toFixed(0));

function setting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim() || String(fallback);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

interface ScrapeStats {
  ok: number;
  /** answers other than 200 by status, failures by message */
  failures: Record<string, number>;
  /** ticks skipped because the previous scrape had not answered (Prometheus does not overlap scrapes either) */
  skipped: number;
  latenciesMs: number[];
  /** scrapes whose body lacked cc_up 1 */
  notUp: number;
  maxBodyBytes: number;
  /** nodejs_eventloop_lag_p99_seconds of each scrape, in ms: the exporter's event-loop delay since the scrape before */
  loopDelayP99Ms: number[];
}

/** GET /metrics with the bearer token every second until stop() is called. */
function startScraper(url: string, token: string): { stop(): Promise<ScrapeStats> } {
  const stats: ScrapeStats = { ok: 0, failures: {}, skipped: 0, latenciesMs: [], notUp: 0, maxBodyBytes: 0, loopDelayP99Ms: [] };
  let inFlight: Promise<void> | undefined;
  const fail = (key: string) => (stats.failures[key] = (stats.failures[key] ?? 0) + 1);
  const scrape = async () => {
    const t = performance.now();
    try {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
      const body = await res.text();
      stats.latenciesMs.push(performance.now() - t);
      if (res.status !== 200) return void fail(String(res.status));
      stats.ok++;
      stats.maxBodyBytes = Math.max(stats.maxBodyBytes, body.length);
      if (!/^cc_up 1$/m.test(body)) stats.notUp++;
      const lag = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(body)?.[1];
      if (lag !== undefined && Number.isFinite(Number(lag))) stats.loopDelayP99Ms.push(Number(lag) * 1000);
    } catch (err) {
      fail((err as Error).name === 'TimeoutError' ? `timeout after ${SCRAPE_TIMEOUT_MS} ms` : (err as Error).message);
    }
  };
  const timer = setInterval(() => {
    if (inFlight) return void stats.skipped++;
    inFlight = scrape().finally(() => (inFlight = undefined));
  }, SCRAPE_INTERVAL_MS);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return stats;
    },
  };
}

async function rowCount(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM public.runtime_metrics');
  return Number(rows[0]?.n ?? 0);
}

async function main(): Promise<void> {
  const serverUrl = process.env.BENCH_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  if (!serverUrl) {
    console.error(
      'npm run load needs a Postgres server: set BENCH_DATABASE_URL (or TEST_DATABASE_URL), e.g.\n' +
        '  BENCH_DATABASE_URL=postgres://postgres:devpass@127.0.0.1:5432/postgres npm run load\n' +
        'It creates a fresh database there and drops it at the end. LOAD_SECONDS (default 60) sets the duration.',
    );
    process.exitCode = 2;
    return;
  }
  let seconds: number, spansPerSecond: number, concurrency: number, spansPerRequest: number;
  try {
    seconds = setting('LOAD_SECONDS', 60, 1, 600);
    spansPerSecond = setting('LOAD_SPANS_PER_SECOND', BENCHMARKED_SPANS_PER_SECOND, 1, 10_000_000);
    concurrency = setting('LOAD_CONCURRENCY', 4, 1, 256);
    spansPerRequest = setting('LOAD_SPANS_PER_REQUEST', 200, 1, 1000);
  } catch (err) {
    console.error(`npm run load: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const requestsPerSecond = spansPerSecond / spansPerRequest;
  const [load1, load5] = loadavg();
  console.log(`machine: ${cpus().length} CPUs, load average ${load1?.toFixed(2)} (1 min) ${load5?.toFixed(2)} (5 min) at the start; node ${process.version}`);

  const db = await openDatabase(serverUrl);
  const admin = new pg.Client({ connectionString: db.connectionString, application_name: 'cc-load' });
  let exporter: ExporterChild | undefined;
  let dropLogin: (() => Promise<void>) | undefined;
  let failed = false;
  try {
    await withClient(db.connectionString, async (client) => {
      progress('applying sql/app and the migrations…');
      await applySqlDir(client, sqlPaths.app);
      await migrate(client, { logger: createLogger('silent') });
    });
    await admin.connect();
    const login = await createExporterLogin(admin, db);
    dropLogin = login.drop;
    const token = randomBytes(24).toString('base64url');
    // Every collector on (the events collector counts what is ingested), /metrics behind a token,
    // no rate limit (every request comes from one loopback address).
    exporter = await startExporterChild(login.connectionString, [], {
      EXPORTER_PORT: '0',
      EXPORTER_HOST: '127.0.0.1',
      OTLP_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
      METRICS_AUTH_TOKEN: token,
    });
    const pid = exporter.pid;
    progress(`exporter pid ${pid} at ${exporter.url}, connected as ${login.role} (acts as cc_exporter); idle RSS ${mib(procStatusKiB(pid, 'VmRSS'))}`);

    // One request first: how many rows a request of this size makes.
    const before = await rowCount(admin);
    const probe = await fetch(`${exporter.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(buildRequest(spansPerRequest, 0)) });
    if (probe.status !== 200) throw new Error(`the probe request was answered ${probe.status}: ${await probe.text()}`);
    const rowsPerRequest = (await rowCount(admin)) - before;
    const rowsAtStart = await rowCount(admin);
    progress(`a request of ${spansPerRequest} spans makes ${rowsPerRequest} rows`);

    progress(
      `load: ${fmt(spansPerSecond)} spans/s (${requestsPerSecond.toFixed(1)} requests/s of ${spansPerRequest} spans, at most ${concurrency} in flight) ` +
        `for ${DEFAULT_WARMUP_SECONDS} s warm-up + ${seconds} s, and GET /metrics every ${SCRAPE_INTERVAL_MS / 1000} s…`,
    );
    let maxRssKiB = procStatusKiB(pid, 'VmRSS') ?? 0;
    const sampler = setInterval(() => (maxRssKiB = Math.max(maxRssKiB, procStatusKiB(pid, 'VmRSS') ?? 0)), 200);
    const cpu0 = procStat(pid)?.cpu;
    const machine0 = machineCpuSeconds();
    const t0 = performance.now();
    const scraper = startScraper(exporter.url, token);
    let load: LoadResult;
    let scrapes: ScrapeStats;
    try {
      load = await runLoadGenerator(exporter.url, seconds, { concurrency, spansPerRequest, warmupSeconds: DEFAULT_WARMUP_SECONDS, requestsPerSecond });
    } finally {
      scrapes = await scraper.stop();
      clearInterval(sampler);
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = procStat(pid)?.cpu;
    const machine1 = machineCpuSeconds();
    const exporterCores = cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / wall : undefined;
    const machineCores = machine0 && machine1 ? (machine1.busy - machine0.busy) / wall : undefined;
    const hwmKiB = procStatusKiB(pid, 'VmHWM');
    const rssAfterKiB = procStatusKiB(pid, 'VmRSS');
    const rows = (await rowCount(admin)) - rowsAtStart;
    const expected = load.total.rejectedSpans === 0 ? load.total.okRequests * rowsPerRequest : NaN;
    const lastScrape = await fetch(`${exporter.url}/metrics`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.text());
    const eventsCounted = [...lastScrape.matchAll(/^cc_events_total\{[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    const output = [...exporter.output];
    const stopped = await exporter.stop();
    exporter = undefined;

    const scrapeLatencies = [...scrapes.latenciesMs].sort((a, b) => a - b);
    const loopDelays = [...scrapes.loopDelayP99Ms].sort((a, b) => a - b);
    const ingestFailures = Object.entries(load.failures).map(([k, n]) => `${k} x${n}`).join(', ') || 'none';
    const scrapeFailures = Object.entries(scrapes.failures).map(([k, n]) => `${k} x${n}`).join(', ') || 'none';
    const [end1] = loadavg();
    console.log('\nSummary: npm run load');
    console.log(`  ingest target      ${fmt(spansPerSecond)} spans/s = ${requestsPerSecond.toFixed(1)} requests/s x ${spansPerRequest} spans, ${concurrency} in flight at most, ${seconds} s measured`);
    console.log(`  ingest achieved    ${fmt(load.measured.spansPerSecond)} spans/s (${fmt(load.measured.requestsPerSecond)} requests/s), ${fmt(load.total.okRequests)} requests answered 200 in the whole run`);
    console.log(`  ingest latency     p50 ${ms(load.measured.latencyMs.p50)} ms, p99 ${ms(load.measured.latencyMs.p99)} ms, max ${ms(load.measured.latencyMs.max)} ms`);
    console.log(`  ingest errors      ${ingestFailures}`);
    console.log(`  scrapes            ${scrapes.ok} answered 200, ${scrapes.skipped} ticks skipped (previous scrape still running), ${scrapes.notUp} without cc_up 1; largest body ${fmt(scrapes.maxBodyBytes)} bytes`);
    console.log(`  scrape latency     p50 ${ms(percentile(scrapeLatencies, 0.5))} ms, p99 ${ms(percentile(scrapeLatencies, 0.99))} ms, max ${ms(scrapeLatencies[scrapeLatencies.length - 1])} ms`);
    console.log(`  scrape errors      ${scrapeFailures}`);
    console.log(`  event-loop delay   p99 per scrape (${loopDelays.length} scrapes): median ${ms(percentile(loopDelays, 0.5))} ms, max ${ms(loopDelays[loopDelays.length - 1])} ms (goal 100 ms)`);
    console.log(`  exporter memory    peak RSS (VmHWM) ${mib(hwmKiB)}; highest sampled RSS ${mib(maxRssKiB)}; RSS after the load ${mib(rssAfterKiB)}`);
    console.log(`  rows verified      ${fmt(rows)} new rows in runtime_metrics, expected ${fmt(expected)} (${fmt(load.total.okRequests)} requests x ${rowsPerRequest} rows): ${rows === expected ? 'ok' : 'MISMATCH'}`);
    console.log(`  events counted     cc_events_total sums to ${fmt(eventsCounted)} at the last scrape (the event collector counts settled rows, up to 100,000 per scrape)`);
    console.log(`  exporter           ${stopped}; ${output.length} line(s) logged at LOG_LEVEL=warn${output.length ? `, first: ${output[0]?.slice(0, 200)}` : ''}`);
    console.log(`  CPU                exporter ${exporterCores?.toFixed(2) ?? 'n/a'} of a core; the whole machine ${machineCores?.toFixed(2) ?? 'n/a'} of ${cpus().length} cores busy (the load generator, Postgres and anything else running included)`);
    console.log(`  machine            load average ${end1?.toFixed(2)} (1 min) at the end`);
    failed = rows !== expected || ingestFailures !== 'none' || scrapeFailures !== 'none' || scrapes.notUp > 0;
  } finally {
    await exporter?.stop();
    await dropLogin?.().catch(() => undefined);
    await admin.end().catch(() => undefined);
    progress(`dropping database ${db.name}…`);
    await db.stop();
  }
  if (failed) {
    console.log('\nload: FAILED (errors or a row mismatch above)');
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(`npm run load failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});

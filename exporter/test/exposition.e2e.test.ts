// The real Prometheus (Debian's 2.42) scraping the exporter: it asks for OpenMetrics and gets it,
// the scrape is healthy, and every series is stored under the name the text format gives it. A
// second job scrapes the same exporter through a path that drops the Accept header (so the
// exporter answers in the text format, as before OpenMetrics), and both jobs hold the same series.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetricsContentType, prometheusContentType } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../src/config.js';
import { createExporter, type Exporter } from '../src/exporter.js';
import { negotiateFormat } from '../src/exposition.js';
import { freePort, prometheusConfigCopy, startPrometheus, whichBinary, type RunningProcess } from '../src/ops/stack/processes.js';
import { eventually } from './support/alerting-stack.js';
import { backends, createTestDatabase, silentLogger, waitUntilSettled, type TestDatabase } from './support/databases.js';
import { parseExposition } from './support/metrics.js';
import { findTool } from './support/tools.js';

const prometheusTool = findTool('prometheus');
const backend = backends.some((b) => b.kind === 'postgres' && b.skip === undefined) ? 'postgres' : 'pglite';
/** The exporter's job (prometheus/prometheus.yml) and the one added here that gets the text format. */
const JOB = 'cc-exporter';
const TEXT_JOB = 'cc-exporter-text';
/** Prometheus' own series about each scrape, not the exporter's. */
const SCRAPE_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']);

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** 'name{a="x",b="y"}' with the labels sorted and job and instance left out, from Prometheus' or the exposition's labels. */
function seriesKey(labels: Record<string, string>): string {
  const { __name__: name, job: _job, instance: _instance, ...rest } = labels;
  const pairs = Object.keys(rest).sort().map((k) => `${k}=${JSON.stringify(rest[k])}`);
  return `${name}{${pairs.join(',')}}`;
}

/** The labels of a parseExposition key. */
function labelsOf(key: string): Record<string, string> {
  const name = /^[^{]+/.exec(key)![0];
  const labels: Record<string, string> = { __name__: name };
  for (const m of key.slice(name.length).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_e, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

describe.skipIf(prometheusTool.skip !== undefined)(`the real Prometheus scraping OpenMetrics [${backend}]${prometheusTool.skip ? ` (skipped: ${prometheusTool.skip})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-openmetrics-'));
  let db: TestDatabase;
  let exporter: Exporter;
  let server: Server;
  let exporterUrl: string;
  let prometheus: RunningProcess;
  /** every scrape of /metrics: the Accept header sent and the Content-Type answered */
  const scrapes: { path: string; accept: string | undefined; contentType: string | undefined }[] = [];

  const api = async <T,>(path: string): Promise<T> => {
    const res = await fetch(`${prometheus.url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  /** the exporter as Prometheus' instance label names it */
  const target = () => new URL(exporterUrl).host;
  const query = (promql: string) => api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`).then((d) => d.result);

  beforeAll(async () => {
    db = await createTestDatabase(backend, { seed: true });
    const config = loadConfig({ EXPORTER_PORT: '0', EXPORTER_HOST: '127.0.0.1', ...(backend === 'pglite' ? { DB_POOL_MAX: '1' } : {}) });
    exporter = createExporter(config, db.connectionString, silentLogger);
    // The exporter's app behind a recorder; /text/metrics is /metrics without the Accept header.
    server = createServer((req, res) => {
      if (req.url === '/metrics' || req.url === '/text/metrics') {
        const entry = { path: req.url, accept: req.headers.accept, contentType: undefined as string | undefined };
        scrapes.push(entry);
        res.once('finish', () => (entry.contentType = String(res.getHeader('content-type'))));
        if (req.url === '/text/metrics') {
          req.url = '/metrics';
          delete req.headers.accept;
        }
      }
      exporter.app(req, res);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    exporterUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    await exporter.scraper.refresh(); // the event cursor starts now
    await exporter.pool.query(
      `INSERT INTO public.runtime_metrics (event_type, event_data) VALUES
        ('page_view', '{"page":"/menu"}'),
        ('api_latency', '{"endpoint":"/api/orders","latency_ms":2500,"status":503,"method":"POST"}'),
        ('payment_failure', '{"provider":"stripe","reason":"card_declined","order_id":"o-1","amount":12.5}')`,
    );
    await waitUntilSettled(exporter.pool);

    const [promPort, nobody] = [await freePort(), await freePort()];
    const promConfig = parse(prometheusConfigCopy({
      exporter: new URL(exporterUrl).host,
      alertmanager: `127.0.0.1:${nobody}`, // no Alertmanager: nothing here reads alerts
      self: `127.0.0.1:${promPort}`,
      scrapeInterval: '2s',
      evaluationInterval: '2s',
    })) as { scrape_configs: Record<string, unknown>[] };
    const job = promConfig.scrape_configs.find((c) => c.job_name === JOB)!;
    promConfig.scrape_configs.push({ ...job, job_name: TEXT_JOB, metrics_path: '/text/metrics' });
    const configFile = join(dir, 'prometheus.yml');
    writeFileSync(configFile, stringify(promConfig));
    prometheus = await startPrometheus(whichBinary('prometheus')!, { configFile, dataDir: join(dir, 'data'), port: promPort });

    // Both jobs have scraped since the events were counted.
    await eventually(async () => {
      const stored = await query('cc_payment_failures_total');
      return stored.length === 2 ? true : undefined;
    }, 60_000, 'both jobs storing cc_payment_failures_total');
  });
  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await exporter?.close();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for OpenMetrics first and is answered in it; the text job gets the text format', () => {
    const om = scrapes.filter((s) => s.path === '/metrics');
    const text = scrapes.filter((s) => s.path === '/text/metrics' && s.contentType !== undefined);
    expect(om.length).toBeGreaterThan(0);
    expect(text.length).toBeGreaterThan(0);
    // Debian's Prometheus 2.42 (without native histograms) sends exactly this
    expect(new Set(om.map((s) => s.accept))).toEqual(new Set(['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1']));
    expect(negotiateFormat(om[0]!.accept)).toBe('openmetrics');
    for (const s of om.filter((s) => s.contentType !== undefined)) expect(s.contentType).toBe(openMetricsContentType);
    for (const s of text) expect(s.contentType).toBe(prometheusContentType);
  });

  it('reports both scrapes healthy: up, no error', async () => {
    const { activeTargets } = await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('/api/v1/targets?state=active');
    for (const job of [JOB, TEXT_JOB]) {
      const target = activeTargets.find((t) => t.labels.job === job);
      expect(target, job).toMatchObject({ health: 'up', lastError: '' });
    }
    for (const job of [JOB, TEXT_JOB]) {
      expect((await query(`up{job="${job}"}`)).map((s) => s.value[1]), job).toEqual(['1']);
      expect((await query(`cc_up{job="${job}"}`)).map((s) => s.value[1]), job).toEqual(['1']);
      expect((await query(`scrape_samples_scraped{job="${job}"} > 100`)).length, job).toBe(1);
      expect((await query(`count(cc_collector_duration_seconds{job="${job}"} > 0)`)).map((s) => s.value[1]), job).toEqual(['6']);
    }
  });

  it('stores each counter under its text-format name (x_total), never x or x_total_total', async () => {
    const value = async (promql: string) => (await query(promql)).map((s) => [s.metric.job, s.value[1]]).sort();
    const bothJobs = (v: string) => [[JOB, v], [TEXT_JOB, v]];
    expect(await value('cc_payment_failures_total{provider="stripe",reason="card_declined"}')).toEqual(bothJobs('1'));
    expect(await value('cc_events_total{event_type="page_view"}')).toEqual(bothJobs('1'));
    expect(await value('cc_deployment_rollbacks_total{environment="production"}')).toEqual(bothJobs('1'));
    expect(await value('cc_sms_sent_total')).toEqual(bothJobs('0'));
    expect(await value(`count by (job) (process_cpu_seconds_total{instance="${target()}"})`)).toEqual(bothJobs('1'));
    expect(await query('{__name__=~".+_total_total"}')).toEqual([]);
    expect(await query('{__name__=~"cc_events|cc_payment_failures|cc_deployment_rollbacks|cc_sms_sent|process_cpu_seconds"}')).toEqual([]);
    // Prometheus keeps a counter's metadata (type, help) under the name of its TYPE line: from
    // OpenMetrics the family (cc_events), from the text format the series name (cc_events_total).
    const metadata = async (job: string, metric: string) =>
      (await api<{ type: string }[]>(`/api/v1/targets/metadata?match_target=${encodeURIComponent(`{job="${job}"}`)}&metric=${metric}`)).map((m) => m.type);
    expect(await metadata(JOB, 'cc_events')).toEqual(['counter']);
    expect(await metadata(TEXT_JOB, 'cc_events_total')).toEqual(['counter']);
  });

  it("evaluates the project's rules on what it scraped without an error", async () => {
    const { groups } = await api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules');
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(10);
    expect(rules.filter((r) => r.health !== 'ok' || r.lastError)).toEqual([]);
  });

  it('holds the same series from OpenMetrics as from the text format, and as a text scrape of the exporter serves', async () => {
    // what the scrapes stored: not Prometheus' own series about them, not the rules' (level:metric:operation, ALERTS*)
    const notScraped = [...SCRAPE_SERIES, '.*:.*', 'ALERTS.*'].join('|');
    const stored = async (job: string) =>
      new Set((await query(`{job="${job}",instance="${target()}",__name__!~"${notScraped}"}`)).map((s) => seriesKey(s.metric)));
    const [fromOpenMetrics, fromText] = [await stored(JOB), await stored(TEXT_JOB)];
    // The exporter's own series (cc_*, process_*) exactly. prom-client's nodejs_* label sets (active
    // handles by type) and families (GC durations, from the first collection on) can change between
    // two scrapes: every metric name either job stored is one a text scrape serves afterwards.
    const own = (keys: Iterable<string>) => [...keys].filter((k) => !k.startsWith('nodejs_')).sort();
    const names = (keys: Iterable<string>) => [...new Set([...keys].map((k) => /^[^{]+/.exec(k)![0]))].sort();
    expect(own(fromOpenMetrics)).toEqual(own(fromText));

    const scrape = parseExposition(await exporter.scraper.scrape('text'));
    const served = [...scrape.keys()].map((k) => seriesKey(labelsOf(k)));
    expect(own(fromOpenMetrics)).toEqual(own(served));
    for (const stored of [fromOpenMetrics, fromText]) expect(names(served)).toEqual(expect.arrayContaining(names(stored)));
    expect(own(fromOpenMetrics).length).toBeGreaterThan(100);
  });
});

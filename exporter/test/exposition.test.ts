import { Counter, Gauge, Histogram, openMetricsContentType, prometheusContentType, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventCounts, registerCounts, type MetricSpec } from '../src/collectors/event-counts.js';
import { negotiateFormat, renderOpenMetrics } from '../src/exposition.js';
import { createTestDatabase, describeEachBackend, waitUntilSettled, type BackendKind, type TestDatabase } from './support/databases.js';
import { startExporter, type RunningExporter } from './support/exporter.js';
import { parseExposition, parseOpenMetrics, type OpenMetricsFamily } from './support/metrics.js';

/** What Prometheus 2.42 (Debian's) sends when it scrapes, as its binary holds it. */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
/** Prometheus 2.42 with native histograms enabled: protobuf first, which the exporter does not write. */
const PROMETHEUS_NATIVE_HISTOGRAMS_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

describe('negotiateFormat', () => {
  it.each([
    [undefined, 'text'],
    ['', 'text'],
    ['*/*', 'text'],
    ['text/plain', 'text'],
    ['text/plain;version=0.0.4', 'text'],
    [PROMETHEUS_ACCEPT, 'openmetrics'],
    [PROMETHEUS_NATIVE_HISTOGRAMS_ACCEPT, 'openmetrics'],
    // the newer Prometheus ordering (3.x), with explicit qualities throughout
    ['application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2', 'openmetrics'],
    ['application/openmetrics-text', 'openmetrics'],
    ['Application/OpenMetrics-Text; version="1.0.0"; charset=utf-8', 'openmetrics'],
    ['text/plain;version=0.0.4;q=0.9, application/openmetrics-text;version=1.0.0;q=0.5', 'text'],
    ['application/openmetrics-text;version=1.0.0;q=0', 'text'],
    ['application/openmetrics-text;version=1.0.0;q=0,*/*', 'text'],
    // Prometheus before 2.5x: OpenMetrics 0.0.1 only, which this exporter does not label its answer as
    ['application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited', 'text'],
    ['application/json', 'text'],
    // a tie goes to the first listed
    ['text/plain, application/openmetrics-text', 'text'],
    ['application/openmetrics-text, text/plain', 'openmetrics'],
    ['application/openmetrics-text;q=abc, text/plain;q=0.1', 'text'],
  ] as const)('%s -> %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });
});

describe('renderOpenMetrics', () => {
  const specs = new Map<string, MetricSpec>([
    ['cc_events_total', { name: 'cc_events_total', help: 'Rows counted, by event type.', type: 'counter', labelNames: ['event_type'] }],
    ['cc_wait_seconds', { name: 'cc_wait_seconds', help: 'Waits.', type: 'histogram', labelNames: ['store'], buckets: [1, 2] }],
  ]);
  function registryWithEveryKind(): Registry {
    const registry = new Registry();
    const counts = new EventCounts(specs);
    counts.inc('cc_events_total', { event_type: 'page_view' }, 3);
    counts.observe('cc_wait_seconds', { store: 'harbor' }, 1.5);
    registerCounts(registry, specs, () => counts);
    new Counter({ name: 'cc_sms_sent_total', help: 'SMS accepted by Twilio.', registers: [registry] }).inc(2);
    new Counter({ name: 'cc_legacy_count', help: 'A counter without _total.', registers: [registry] }).inc();
    new Gauge({ name: 'cc_up', help: 'Reached "Postgres" (a quote, and a back\\slash).', registers: [registry] }).set(1);
    new Gauge({ name: 'cc_handles_total', help: 'A gauge named *_total.', registers: [registry] }).set(4);
    new Histogram({ name: 'cc_latency_seconds', help: 'Latency.', buckets: [0.5], labelNames: ['route'], registers: [registry] }).observe({ route: '/a"b' }, 0.2);
    return registry;
  }

  it('names counter families without _total and their samples with it, once; keeps every other name', async () => {
    const registry = registryWithEveryKind();
    expect(await renderOpenMetrics(registry)).toBe(
      [
        '# HELP cc_events Rows counted, by event type.',
        '# TYPE cc_events counter',
        'cc_events_total{event_type="page_view"} 3',
        '# HELP cc_wait_seconds Waits.',
        '# TYPE cc_wait_seconds histogram',
        'cc_wait_seconds_bucket{le="1",store="harbor"} 0',
        'cc_wait_seconds_bucket{le="2",store="harbor"} 1',
        'cc_wait_seconds_bucket{le="+Inf",store="harbor"} 1',
        'cc_wait_seconds_sum{store="harbor"} 1.5',
        'cc_wait_seconds_count{store="harbor"} 1',
        '# HELP cc_sms_sent SMS accepted by Twilio.',
        '# TYPE cc_sms_sent counter',
        'cc_sms_sent_total 2',
        // OpenMetrics would store a counter's samples as <family>_total: this one keeps its name as unknown
        '# HELP cc_legacy_count A counter without _total.',
        '# TYPE cc_legacy_count unknown',
        'cc_legacy_count 1',
        '# HELP cc_up Reached \\"Postgres\\" (a quote, and a back\\\\slash).',
        '# TYPE cc_up gauge',
        'cc_up 1',
        '# HELP cc_handles_total A gauge named *_total.',
        '# TYPE cc_handles_total gauge',
        'cc_handles_total 4',
        '# HELP cc_latency_seconds Latency.',
        '# TYPE cc_latency_seconds histogram',
        'cc_latency_seconds_bucket{le="0.5",route="/a\\"b"} 1',
        'cc_latency_seconds_bucket{le="+Inf",route="/a\\"b"} 1',
        'cc_latency_seconds_sum{route="/a\\"b"} 0.2',
        'cc_latency_seconds_count{route="/a\\"b"} 1',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(() => parseOpenMetrics(`# HELP x a "quote"\n# TYPE x gauge\nx 1\n# EOF\n`)).toThrow(/unescaped quote/);
  });

  it('leaves the shared registry as the text format needs it (prom-client renames counters for good in OpenMetrics mode)', async () => {
    const registry = registryWithEveryKind();
    const text = await registry.metrics();
    expect(text).toContain('\ncc_sms_sent_total 2\n');
    for (let i = 0; i < 3; i++) parseOpenMetrics(await renderOpenMetrics(registry));
    expect(registry.contentType).toBe(prometheusContentType);
    expect(await registry.metrics()).toBe(text);
  });
});

// Pool of one on PGlite: it serves one connection at a time.
const envFor = (kind: BackendKind) => (kind === 'pglite' ? { DB_POOL_MAX: '1' } : {});

/** The text format's families: name -> type, and its samples. */
function textFamilies(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** All samples of parsed OpenMetrics families in one map, keyed like parseExposition. */
function allSamples(families: Map<string, OpenMetricsFamily>): Map<string, number> {
  return new Map([...families.values()].flatMap((f) => [...f.samples]));
}

/** A sample key's metric name. */
const nameOf = (key: string) => /^[^{]+/.exec(key)![0];

describeEachBackend('/metrics in OpenMetrics', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase(kind, { seed: true });
    exporter = await startExporter(db.connectionString, envFor(kind));
    await exporter.scraper.refresh(); // the event cursor starts now
    // rows for the event collector's counters and histograms, counted once settled
    await exporter.pool.query(
      `INSERT INTO public.runtime_metrics (event_type, event_data) VALUES
        ('page_view', '{"page":"/menu"}'),
        ('api_latency', '{"endpoint":"/api/orders","latency_ms":120,"status":200,"method":"GET"}'),
        ('payment_failure', '{"provider":"stripe","reason":"card_declined","order_id":"o-1","amount":12.5}')`,
    );
    await waitUntilSettled(exporter.pool);
    await exporter.scraper.refresh();
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it('answers Prometheus with OpenMetrics: its content type, # EOF, counters named once', async () => {
    const res = await exporter.get('/metrics', { accept: PROMETHEUS_ACCEPT });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(openMetricsContentType);
    expect(res.headers.get('vary')).toBe('Accept');
    expect(res.body.endsWith('\n# EOF\n')).toBe(true);
    expect(res.body).not.toContain('_total_total');
    const families = parseOpenMetrics(res.body);
    const counters = [...families.values()].filter((f) => f.type === 'counter');
    expect(counters.map((f) => f.name)).toEqual(expect.arrayContaining(['cc_events', 'cc_payment_failures', 'cc_deployment_rollbacks', 'cc_otlp_requests', 'process_cpu_seconds']));
    for (const f of counters) {
      expect(f.name).not.toMatch(/_total$/);
      for (const key of f.samples.keys()) expect(nameOf(key)).toBe(`${f.name}_total`);
    }
    const samples = allSamples(families);
    expect(samples.get('cc_up')).toBe(1);
    expect(samples.get('cc_deployment_rollbacks_total{environment="production"}')).toBe(1);
    expect(samples.get('cc_payment_failures_total{provider="stripe",reason="card_declined"}')).toBe(1);
    expect(samples.get('cc_events_total{event_type="page_view"}')).toBeGreaterThanOrEqual(1);
    expect(families.get('cc_api_request_duration_seconds')?.type).toBe('histogram');
  });

  it('serves every series of the text format under the same sample name, and the same families renamed only for counters', async () => {
    // Rendered from one shared refresh: the exporter's own values are the same in both.
    const [text, openMetrics] = await Promise.all([exporter.scraper.scrape('text'), exporter.scraper.scrape('openmetrics')]);
    const families = parseOpenMetrics(openMetrics);
    const omSamples = allSamples(families);
    const textSamples = parseExposition(text);

    const expectedFamilies = new Map([...textFamilies(text)].map(([name, type]) => [type === 'counter' ? name.replace(/_total$/, '') : name, type]));
    expect(new Map([...families.values()].map((f) => [f.name, f.type]))).toEqual(expectedFamilies);

    // The process's own (nodejs_*) label sets may change between two renders (a GC, a socket):
    // their metric names are compared; every other series exactly, and the exporter's values too.
    const stable = (key: string) => !key.startsWith('nodejs_');
    expect([...omSamples.keys()].filter(stable).sort()).toEqual([...textSamples.keys()].filter(stable).sort());
    expect(new Set([...omSamples.keys()].map(nameOf))).toEqual(new Set([...textSamples.keys()].map(nameOf)));
    for (const [key, value] of textSamples) if (key.startsWith('cc_')) expect(omSamples.get(key), key).toBe(value);
    expect(textSamples.size).toBeGreaterThan(100);
  });

  it('keeps the text format as it was, for every client that does not ask for OpenMetrics', async () => {
    for (const accept of [undefined, '*/*', 'text/plain;version=0.0.4', 'application/openmetrics-text;version=0.0.1']) {
      const res = await exporter.get('/metrics', accept === undefined ? {} : { accept });
      expect(res.headers.get('content-type'), accept).toBe(prometheusContentType);
      expect(res.body).not.toContain('# EOF');
      expect(res.body).toMatch(/^# TYPE cc_events_total counter\ncc_events_total\{event_type="page_view"\} \d/m);
      expect(res.body).toMatch(/^# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \d/m);
    }
  });

  it('shares one refresh between concurrent scrapes of both formats', async () => {
    let probes = 0;
    const query = exporter.pool.query.bind(exporter.pool);
    exporter.pool.query = ((text: unknown, ...rest: unknown[]) => {
      if (text === 'SELECT 1') probes++;
      return (query as (...a: unknown[]) => unknown)(text, ...rest);
    }) as typeof exporter.pool.query;
    try {
      const bodies = await Promise.all(Array.from({ length: 10 }, (_, i) => exporter.scraper.scrape(i % 2 === 0 ? 'text' : 'openmetrics')));
      expect(probes).toBe(1);
      bodies.forEach((body, i) => {
        const samples = i % 2 === 0 ? parseExposition(body) : allSamples(parseOpenMetrics(body));
        expect(samples.get('cc_up')).toBe(1);
      });
    } finally {
      exporter.pool.query = query;
    }
  });

  it('gives concurrent OpenMetrics and text scrapes each its own format, even while their renders interleave', async () => {
    // A metric whose value is read only once every scrape below is rendering: all six renders are
    // inside the registry at the same time when it answers.
    const scrapers = 6;
    let arrived = 0;
    let release!: () => void;
    const allArrived = new Promise<void>((resolve) => (release = resolve));
    const gateName = 'cc_test_render_gate';
    new Gauge({
      name: gateName,
      help: 'Held until every concurrent render has reached it.',
      registers: [exporter.registry],
      async collect() {
        if (++arrived === scrapers) release();
        await allArrived;
        this.set(1);
      },
    });
    try {
      const accepts = Array.from({ length: scrapers }, (_, i) => (i % 2 === 0 ? PROMETHEUS_ACCEPT : 'text/plain;version=0.0.4'));
      const responses = await Promise.all(accepts.map((accept) => exporter.get('/metrics', { accept })));
      expect(arrived).toBe(scrapers);
      responses.forEach((res, i) => {
        expect(res.status).toBe(200);
        if (i % 2 === 0) {
          expect(res.headers.get('content-type')).toBe(openMetricsContentType);
          const families = parseOpenMetrics(res.body);
          expect(families.get('cc_events')?.type).toBe('counter');
          expect(families.get('cc_test_render_gate')?.samples.get('cc_test_render_gate')).toBe(1);
          expect(res.body).not.toContain('_total_total');
        } else {
          expect(res.headers.get('content-type')).toBe(prometheusContentType);
          expect(res.body).not.toContain('# EOF');
          expect(res.body).toContain('# TYPE cc_events_total counter\n');
          expect(res.body).toContain('# TYPE cc_sms_sent_total counter\ncc_sms_sent_total 0\n');
          expect(parseExposition(res.body).get('cc_test_render_gate')).toBe(1);
        }
      });
    } finally {
      exporter.registry.removeSingleMetric(gateName);
    }
  });
});

describe('/metrics in OpenMetrics while Postgres is unreachable', () => {
  let exporter: RunningExporter;
  beforeAll(async () => {
    // nothing listens on port 1: every connection is refused at once
    exporter = await startExporter('postgres://cc:cc@127.0.0.1:1/cc', { DB_POOL_MAX: '1', DB_CONNECT_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => {
    await exporter?.stop();
  });

  it('is a 200 with cc_up 0, every collector failed, and no business series, as in the text format', async () => {
    const [om, text] = [await exporter.get('/metrics', { accept: PROMETHEUS_ACCEPT }), await exporter.get('/metrics')];
    expect([om.status, text.status]).toEqual([200, 200]);
    const samples = allSamples(parseOpenMetrics(om.body));
    const textSamples = parseExposition(text.body);
    expect(samples.get('cc_up')).toBe(0);
    for (const collector of ['orders', 'deployments', 'database', 'events', 'backups', 'maintenance']) {
      expect(samples.get(`cc_collector_success{collector="${collector}"}`), collector).toBe(0);
      expect(samples.get(`cc_collector_duration_seconds{collector="${collector}"}`), collector).toBe(0);
    }
    const business = (keys: Iterable<string>) => [...keys].filter((k) => /^cc_(orders|deployment|db|backup|events|page|api|order|payment)/.test(k));
    expect(business(samples.keys())).toEqual([]);
    expect([...samples.keys()].filter((k) => k.startsWith('cc_')).sort()).toEqual([...textSamples.keys()].filter((k) => k.startsWith('cc_')).sort());
  });
});

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, type BackendKind, type TestDatabase } from './support/databases.js';
import { startExporter, type RunningExporter } from './support/exporter.js';
import { parseExposition } from './support/metrics.js';
import { findTool } from './support/tools.js';
import { describeError } from '../src/db.js';

const promtool = findTool('promtool');

/** Sum of a metric's samples whose series text matches `filter`. */
function sum(series: Map<string, number>, name: string, filter = ''): number {
  let total = 0;
  for (const [key, value] of series) if (key.startsWith(`${name}{`) && key.includes(filter)) total += value;
  return total;
}

// Pool of one on PGlite: it serves one connection at a time.
const envFor = (kind: BackendKind) => (kind === 'pglite' ? { DB_POOL_MAX: '1' } : {});

describeEachBackend('exporter over the demo data', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;
  let scrape: string;

  beforeAll(async () => {
    db = await createTestDatabase(kind, { seed: true });
    exporter = await startExporter(db.connectionString, envFor(kind));
    const res = await exporter.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    scrape = res.body;
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it('serves the seeded state exactly', () => {
    const series = parseExposition(scrape);
    expect(series.get('cc_up')).toBe(1);
    for (const collector of ['orders', 'deployments', 'database']) {
      expect(series.get(`cc_collector_success{collector="${collector}"}`)).toBe(1);
      expect(series.get(`cc_collector_duration_seconds{collector="${collector}"}`)).toBeGreaterThan(0);
    }
    expect(sum(series, 'cc_orders_active')).toBe(16);
    expect(sum(series, 'cc_orders_stuck')).toBe(2);
    expect(series.get('cc_orders_stuck{store="downtown",status="preparing"}')).toBe(1);
    expect(series.get('cc_orders_stuck{store="harbor",status="ready"}')).toBe(1);
    expect(series.get('cc_deployment_info{environment="production",version="1.9.1",commit_sha="c0ffee5",status="success"}')).toBe(1);
    expect(series.get('cc_deployment_rollbacks_total{environment="production"}')).toBe(1);
    expect(series.get('cc_db_size_limit_bytes')).toBe(500_000_000);
    expect(series.get('cc_db_size_bytes')).toBeGreaterThan(0);
    // the revision: the commit of this checkout (EXPORTER_REVISION in an image)
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim().slice(0, 12);
    expect([...series.keys()].some((k) => k.startsWith(`cc_exporter_build_info{version="0.1.0",revision="${head || 'unknown'}"`))).toBe(true);
  });

  it.skipIf(promtool.skip !== undefined)(
    `passes promtool check metrics${promtool.skip ? ` (skipped: ${promtool.skip})` : ''}`,
    () => {
      const result = spawnSync(promtool.path!, ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
      // prom-client's default metrics name three gauges *_total (theirs to rename, not ours); every
      // other line would be a problem of this project's own metrics.
      const theirs = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
      const problems = (result.stdout + result.stderr).split('\n').filter((l) => l !== '' && !theirs.some((name) => l.startsWith(`${name} non-counter metrics should not have "_total" suffix`)));
      expect(problems).toEqual([]);
      expect(scrape).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m); // the event loop's delay, since the last scrape
    },
  );

  it('answers health, readiness and unknown paths', async () => {
    expect(await exporter.get('/healthz')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    expect(await exporter.get('/readyz')).toMatchObject({ status: 200, body: '{"status":"ready"}' });
    const missing = await exporter.get('/nope');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ error: 'no route for GET /nope' });
  });
});

describeEachBackend('a failing collector', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase(kind, { seed: true });
    exporter = await startExporter(db.connectionString, envFor(kind));
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });
  // Through the exporter's own pool: PGlite serves one connection at a time.
  const sql = (text: string) => exporter.pool.query(text);

  it('shows as cc_collector_success 0 with its series gone, and the scrape still succeeds', async () => {
    const before = parseExposition((await exporter.get('/metrics')).body);
    expect(sum(before, 'cc_orders_active')).toBe(16);

    await sql('ALTER VIEW observability.active_orders RENAME TO active_orders_moved');
    const res = await exporter.get('/metrics');
    expect(res.status).toBe(200);
    const after = parseExposition(res.body);
    expect(after.get('cc_up')).toBe(1);
    expect(after.get('cc_collector_success{collector="orders"}')).toBe(0);
    expect(after.get('cc_collector_success{collector="deployments"}')).toBe(1);
    expect(after.get('cc_collector_success{collector="database"}')).toBe(1);
    expect([...after.keys()].filter((k) => k.startsWith('cc_orders_'))).toEqual([]);

    await sql('ALTER VIEW observability.active_orders_moved RENAME TO active_orders');
    const healed = parseExposition((await exporter.get('/metrics')).body);
    expect(healed.get('cc_collector_success{collector="orders"}')).toBe(1);
    expect(sum(healed, 'cc_orders_active')).toBe(16);
  });

  it('logs a missing relation or grant with the command that fixes it', async () => {
    const missing = await sql('SELECT * FROM observability.not_migrated_yet').catch((e: unknown) => e);
    expect(describeError(missing)).toBe('relation "observability.not_migrated_yet" does not exist (is the schema migrated? run: npm run db:migrate)');
    const other = await sql('SELECT 1/0').catch((e: unknown) => e);
    expect(describeError(other)).toBe('division by zero');
  });
});

describe('metrics authentication', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pglite');
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('requires the bearer token when one is configured', async () => {
    const exporter = await startExporter(db.connectionString, { DB_POOL_MAX: '1', METRICS_AUTH_TOKEN: 'tok-123' });
    try {
      const denied = await exporter.get('/metrics');
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="cc-exporter"');
      expect((await exporter.get('/metrics', { authorization: 'Bearer wrong' })).status).toBe(401);
      const ok = await exporter.get('/metrics', { authorization: 'Bearer tok-123' });
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('cc_up 1');
      expect((await exporter.get('/healthz')).status).toBe(200);
    } finally {
      await exporter.stop();
    }
  });

  it('requires basic credentials when they are configured', async () => {
    const exporter = await startExporter(db.connectionString, {
      DB_POOL_MAX: '1',
      METRICS_BASIC_AUTH_USERNAME: 'prometheus',
      METRICS_BASIC_AUTH_PASSWORD: 'pa55',
    });
    try {
      expect((await exporter.get('/metrics')).status).toBe(401);
      const wrong = Buffer.from('prometheus:nope').toString('base64');
      expect((await exporter.get('/metrics', { authorization: `Basic ${wrong}` })).status).toBe(401);
      const right = Buffer.from('prometheus:pa55').toString('base64');
      expect((await exporter.get('/metrics', { authorization: `Basic ${right}` })).status).toBe(200);
    } finally {
      await exporter.stop();
    }
  });
});

// OTLP_PORT: the public listener serves /v1/traces and nothing else; the private one serves the
// rest and not /v1/traces.
describe('a public listener for /v1/traces alone (OTLP_PORT)', () => {
  let db: TestDatabase;
  let exporter: RunningExporter;
  let publicServer: import('node:http').Server;
  let publicUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase('pglite');
    exporter = await startExporter(db.connectionString, { DB_POOL_MAX: '1', COLLECTORS: 'database', OTLP_PORT: '4318', HOOKS_AUTH_TOKEN: 'hooks-token', ACK_AUTH_TOKEN: 'ack-token-0123456789' });
    publicServer = exporter.publicApp!.listen(0, '127.0.0.1');
    await new Promise((resolve) => publicServer.once('listening', resolve));
    publicUrl = `http://127.0.0.1:${(publicServer.address() as import('node:net').AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => publicServer?.close(resolve));
    await exporter?.stop();
    await db?.stop();
  });

  it('accepts spans on the public listener only, and serves metrics, health, webhooks and acknowledging on the private one only', async () => {
    const { jsonRequest } = await import('./support/otlp.js');
    const spans = () => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(jsonRequest([{ name: 'page_view', attributes: { page: '/menu' } }])) });
    expect((await fetch(`${publicUrl}/v1/traces`, spans())).status).toBe(200);
    expect((await fetch(`${exporter.url}/v1/traces`, spans())).status).toBe(404);
    for (const path of ['/metrics', '/healthz', '/readyz', '/', '/hooks/alert-history', '/alerts/ack']) {
      const res = await fetch(`${publicUrl}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: `no route for GET ${path}` });
    }
    expect((await fetch(`${exporter.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${exporter.url}/healthz`)).status).toBe(200);
    expect(exporter.publicApp).toBeDefined();
  });

  it('keeps one port when OTLP_PORT is unset, and refuses the same port twice', async () => {
    const { loadConfig, ConfigError } = await import('../src/config.js');
    expect(loadConfig({}).otlp.port).toBeUndefined();
    expect(() => loadConfig({ EXPORTER_PORT: '9464', OTLP_PORT: '9464' })).toThrow(ConfigError);
    expect(() => loadConfig({ OTLP_PORT: 'public' })).toThrow(/OTLP_PORT must be a whole number from 1 to 65535, got "public"/);
  });
});

// Postgres going away under the receiver (a loopback proxy cut or blackholed, a locked table):
// 503 with Retry-After and nothing stored, never a 2xx before the rows are committed; the same
// request succeeds once Postgres is back, and the official exporter's retry delivers it once.
import { SpanKind } from '@opentelemetry/api';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { connect, createTestDatabase, describeEachBackend, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { jsonRequest, otelClient, post, storedEvents, toProtobuf } from '../support/otlp.js';
import { startProxy, type DbProxy } from '../support/proxy.js';


const protobuf = { headers: { 'content-type': 'application/x-protobuf' } };
const CONNECT_TIMEOUT_MS = 1000;

const requestFor = (sessionId: string) =>
  jsonRequest([
    { name: 'page_view', attributes: { page: '/menu', 'session.id': sessionId } },
    { name: 'HTTP GET', kind: 3, attributes: { 'http.request.method': 'GET', 'url.full': 'https://api.example.com/orders', 'http.response.status_code': 200, 'session.id': sessionId } },
  ]);

describeEachBackend('OTLP receiver while Postgres is away', (kind) => {
  let db: TestDatabase;
  let proxy: DbProxy;
  let exporter: RunningExporter;
  const logged: { msg: string; err?: string }[] = [];
  /** the error of the last "cannot store spans" line: why the receiver answered 503 */
  const unavailableBecause = () => logged.filter((l) => l.msg.startsWith('OTLP receiver cannot store spans')).at(-1)?.err;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    proxy = await startProxy(db.connectionString);
    const logger = createLogger('info', { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string; err?: string }) });
    exporter = await startExporter(proxy.connectionString, {
      DB_POOL_MAX: kind === 'pglite' ? '1' : '3',
      DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DB_STATEMENT_TIMEOUT_MS: '2000',
      DB_LOCK_TIMEOUT_MS: '500',
      OTLP_RATE_LIMIT_PER_MINUTE: '0',
    }, logger);
  });
  afterAll(async () => {
    await exporter?.stop();
    await proxy?.close();
    await db?.stop();
  });

  it('answers 503 with Retry-After while Postgres is down, and stores the same request exactly once after', async () => {
    await proxy.cut();
    const body = requestFor('down-1');
    const down = await post(exporter.url, body);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('5');
    expect(down.json()).toEqual({ code: 14, message: 'the span store is unavailable; retry later' });

    const downProtobuf = await post(exporter.url, new Uint8Array([0x0a, 0x00]), protobuf);
    expect(downProtobuf.status).toBe(200); // a resource with no spans: nothing to store, nothing lost
    const again = await post(exporter.url, body, { gzip: true });
    expect(again.status).toBe(503);

    await proxy.restore();
    const up = await post(exporter.url, body);
    expect(up.status).toBe(200);
    expect(up.json()).toEqual({});
    const rows = await storedEvents(exporter.pool, `session_id = 'down-1'`);
    expect(rows.map((r) => r.event_type)).toEqual(['page_view', 'api_latency']);
  });

  it('answers protobuf clients 503 with a protobuf Status', async () => {
    const body = toProtobuf(requestFor('down-proto'));
    await proxy.cut();
    try {
      const res = await post(exporter.url, body, protobuf);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/x-protobuf');
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.body.subarray(0, 2)).toEqual(Buffer.from([0x08, 0x0e])); // google.rpc.Status code 14, UNAVAILABLE
    } finally {
      await proxy.restore();
    }
    expect((await post(exporter.url, body, protobuf)).status).toBe(200);
    expect(await storedEvents(exporter.pool, `session_id = 'down-proto'`)).toHaveLength(2);
  });

  it('answers within the connect timeout when Postgres accepts but never replies', async () => {
    await proxy.blackhole();
    // The pool's connections were dropped with the old server: the insert must open a new one.
    await expect.poll(() => exporter.pool.idleCount).toBe(0);
    const started = performance.now();
    const hung = await post(exporter.url, requestFor('hung'));
    expect(hung.status).toBe(503);
    // The 503 came from the connect timeout, not from a reply; the bound is 5x that timeout.
    expect(unavailableBecause()).toMatch(/timeout/i);
    expect(performance.now() - started).toBeLessThan(5 * CONNECT_TIMEOUT_MS);
    await proxy.restore();
    expect((await post(exporter.url, requestFor('hung'))).status).toBe(200);
    expect(await storedEvents(exporter.pool, `session_id = 'hung'`)).toHaveLength(2);
  });

  it('lets the official exporter retry on 503 (honouring Retry-After) and deliver once Postgres is back', async () => {
    await proxy.cut();
    const { provider } = otelClient(exporter.url, 'json', { 'session.id': 'retried' }, { timeoutMillis: 20_000 });
    let restored = false;
    try {
      provider.getTracer('app').startSpan('page_view', { kind: SpanKind.INTERNAL, attributes: { page: '/retried' } }).end();
      const flushed = provider.forceFlush();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await proxy.restore();
      restored = true;
      await flushed; // rejects if the export finally failed
    } finally {
      if (!restored) await proxy.restore();
      await provider.shutdown();
    }
    expect(await storedEvents(exporter.pool, `session_id = 'retried'`)).toEqual([
      expect.objectContaining({ event_type: 'page_view', event_data: { page: '/retried', referrer: null, userAgent: null, service: 'connect-web' } }),
    ]);
  }, 30_000);

  // Needs a second session holding the lock: the Postgres server only.
  if (kind === 'postgres') it('answers 503 when the insert times out on a lock, and stores nothing of it', async () => {
    const locker: pg.Client = await connect(db);
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE public.runtime_metrics IN ACCESS EXCLUSIVE MODE');
      const locked = await post(exporter.url, requestFor('locked'));
      expect(locked.status).toBe(503);
      expect(locked.headers.get('retry-after')).toBe('5');
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    expect(await storedEvents(exporter.pool, `session_id = 'locked'`)).toEqual([]);
    expect((await post(exporter.url, requestFor('locked'))).status).toBe(200);
    expect(await storedEvents(exporter.pool, `session_id = 'locked'`)).toHaveLength(2);
  });
});

// Replays: a client that never got its answer sends the same request again. The receiver keeps
// each stored body's SHA-256 for OTLP_DEDUPE_WINDOW_MINUTES and stores a replay's rows no more;
// the answer is the same 200, so the client stops retrying.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { sqlPaths } from '../../src/paths.js';
import { backends, connect, createTestDatabase, describeEachBackend, type BackendKind, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { parseExposition } from '../support/metrics.js';
import { jsonRequest, post, storedEvents } from '../support/otlp.js';

const envFor = (kind: BackendKind, extra: Record<string, string> = {}) => ({
  ...(kind === 'pglite' ? { DB_POOL_MAX: '1' } : {}),
  OTLP_RATE_LIMIT_PER_MINUTE: '0',
  COLLECTORS: 'events',
  ...extra,
});

/** A request of `n` page views in one session; a new body (new ids) at every call. */
const pageViews = (session: string, n: number) => jsonRequest(Array.from({ length: n }, (_, i) => ({ name: 'page_view', attributes: { page: `/p${i}`, 'session.id': session } })));

async function counters(exporter: RunningExporter) {
  const series = parseExposition((await exporter.get('/metrics')).body);
  return {
    ok: series.get('cc_otlp_requests_total{code="200"}') ?? Number.NaN,
    accepted: series.get('cc_otlp_spans_total{outcome="accepted"}') ?? Number.NaN,
    replayed: series.get('cc_otlp_replayed_requests_total') ?? Number.NaN,
  };
}

describeEachBackend('OTLP replays', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    exporter = await startExporter(db.connectionString, envFor(kind));
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it('stores a request once when the client sends it again, plain or gzipped, and answers each copy 200', async () => {
    const body = JSON.stringify(pageViews('replayed', 3));
    const before = await counters(exporter);
    const answers = [await post(exporter.url, body), await post(exporter.url, body), await post(exporter.url, body, { gzip: true })];
    expect(answers.map((a) => [a.status, a.json()])).toEqual([
      [200, {}],
      [200, {}],
      [200, {}],
    ]);
    expect(await storedEvents(exporter.pool, `session_id = 'replayed'`)).toHaveLength(3);
    const after = await counters(exporter);
    expect({ ok: after.ok - before.ok, accepted: after.accepted - before.accepted, replayed: after.replayed - before.replayed }).toEqual({ ok: 3, accepted: 3, replayed: 2 });
  });

  it('stores two requests that differ in any byte, even with the same spans in them', async () => {
    const request = pageViews('differs', 2);
    await post(exporter.url, request);
    await post(exporter.url, JSON.stringify(request, null, 1)); // same spans, other whitespace: another request
    expect(await storedEvents(exporter.pool, `session_id = 'differs'`)).toHaveLength(4);
  });

  it('keeps a digest only for a request that stored rows: a refused one, or one whose spans make no row, leaves none', async () => {
    const digests = async () => Number((await exporter.pool.query<{ n: string }>('SELECT count(*) AS n FROM observability.otlp_request_digests')).rows[0]!.n);
    const before = await digests();
    expect((await post(exporter.url, '{"resourceSpans": 7}')).status).toBe(400);
    expect((await post(exporter.url, { resourceSpans: [] })).status).toBe(200);
    expect((await post(exporter.url, jsonRequest([{ name: 'compute totals' }]))).status).toBe(200); // a plain span: no row
    expect(await digests()).toBe(before);
    expect((await post(exporter.url, pageViews('one-digest', 1))).status).toBe(200);
    expect(await digests()).toBe(before + 1);
  });
});

// Concurrency and the settings need the Postgres server: the embedded database is one session.
const postgres = backends.find((b) => b.kind === 'postgres')!;

describe.skipIf(postgres.skip !== undefined)(`OTLP replays under concurrency and settings [postgres]${postgres.skip ? ` (skipped: ${postgres.skip})` : ''}`, () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    client = await connect(db);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  it('stores one copy when eight copies of a request arrive at once', async () => {
    const exporter = await startExporter(db.connectionString, envFor('postgres', { DB_POOL_MAX: '8' }));
    try {
      const body = JSON.stringify(pageViews('at-once', 5));
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(exporter.url, body)));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      expect(await storedEvents(client, `session_id = 'at-once'`)).toHaveLength(5);
      expect((await counters(exporter)).replayed).toBe(7);
    } finally {
      await exporter.stop();
    }
  });

  it('stores every copy with OTLP_DEDUPE_WINDOW_MINUTES=0, and keeps no digest', async () => {
    const exporter = await startExporter(db.connectionString, envFor('postgres', { OTLP_DEDUPE_WINDOW_MINUTES: '0' }));
    try {
      const { rows: before } = await client.query<{ n: string }>('SELECT count(*) AS n FROM observability.otlp_request_digests');
      const body = JSON.stringify(pageViews('no-dedupe', 2));
      for (let i = 0; i < 3; i++) expect((await post(exporter.url, body)).status).toBe(200);
      expect(await storedEvents(client, `session_id = 'no-dedupe'`)).toHaveLength(6);
      const { rows: after } = await client.query<{ n: string }>('SELECT count(*) AS n FROM observability.otlp_request_digests');
      expect(after[0]!.n).toBe(before[0]!.n);
    } finally {
      await exporter.stop();
    }
  });

  it('goes on storing, with a warning, on a database whose migrations stop before the digest table', async () => {
    await client.query('DROP TABLE observability.otlp_request_digests');
    let log = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log += chunk.toString();
        done();
      },
    });
    const exporter = await startExporter(db.connectionString, envFor('postgres'), createLogger('info', sink));
    try {
      const body = JSON.stringify(pageViews('unmigrated', 2));
      expect((await post(exporter.url, body)).status).toBe(200);
      expect((await post(exporter.url, body)).status).toBe(200);
      // Without digests a replay is stored again: the old behaviour, never a refusal.
      expect(await storedEvents(client, `session_id = 'unmigrated'`)).toHaveLength(4);
      const warnings = log.split('\n').filter((l) => l.includes('OTLP replays cannot be recognised'));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, err: expect.stringContaining('run: npm run db:migrate') });
    } finally {
      await exporter.stop();
      // Put the table back the way the migration makes it, for the other tests of this file.
      await client.query(await readFile(join(sqlPaths.migrations, '008_otlp_request_digests.sql'), 'utf8'));
    }
  });
});

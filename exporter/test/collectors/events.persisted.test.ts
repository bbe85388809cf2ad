// The committed event counts: a new process (a restart, SIGKILL included: nothing is written on
// the way down) and another replica go on from what was committed, exactly; a cursor or rows
// that do not belong to this cluster are detected, counted and said; a missing table is served
// from memory as before, and said.
import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/log.js';
import { connect, createTestDatabase, describeEachBackend, waitUntilSettled, type TestDatabase } from '../support/databases.js';
import { startExporter } from '../support/exporter.js';
import { samples } from '../support/metrics.js';
import { createEventsCollector, DIMENSIONS, SERIES_BUDGET_DEFAULTS, SNAPSHOT, type EventsOptions } from '../../src/collectors/events.js';
import type { Queryable } from '../../src/db.js';
import type { Collector } from '../../src/collectors/types.js';

const options: EventsOptions = { batchSize: 50, maxBatchesPerScrape: 2, checkpointIntervalMs: 0, lookbackSeconds: 0, seriesBudgets: SERIES_BUDGET_DEFAULTS, seriesIdleMs: 3_600_000, routePatterns: [], instance: 'test' };

/** A logger that keeps its lines, to check what was said. */
function recordingLogger(): { logger: Logger; lines: () => { level: number; msg: string; [k: string]: unknown }[] } {
  const chunks: string[] = [];
  const logger = createLogger('info', { write: (chunk: string) => void chunks.push(chunk) });
  return { logger, lines: () => chunks.flatMap((c) => c.split('\n')).filter(Boolean).map((l) => JSON.parse(l)) };
}

describeEachBackend('events collector, committed counts', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;

  const insert = (type: string, data: object, n = 1) =>
    client.query(`INSERT INTO runtime_metrics (event_type, event_data) SELECT $1, $2::jsonb FROM generate_series(1, $3)`, [type, JSON.stringify(data), n]);
  const start = (extra: Partial<EventsOptions> = {}): { registry: Registry; collector: Collector } => {
    const registry = new Registry();
    return { registry, collector: createEventsCollector(registry, { ...options, ...extra }) };
  };
  const collect = async (collector: Collector) => {
    await waitUntilSettled(client);
    await collector.collect(client);
  };
  const total = async (registry: Registry, type: string) => (await samples(registry, 'cc_events_total'))[`event_type=${type}`];

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    client = await connect(db);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });
  beforeEach(async () => {
    await client.query('TRUNCATE runtime_metrics, observability.event_counter_state');
  });

  it('serves nothing before the committed counts are read, then the known series', async () => {
    const { registry, collector } = start();
    expect(await samples(registry, 'cc_events_total')).toEqual({});
    await collect(collector);
    expect(await total(registry, 'payment_failure')).toBe(0);
    expect(await samples(registry, 'cc_api_requests_total')).toEqual({
      'status_class=2xx': 0, 'status_class=3xx': 0, 'status_class=4xx': 0, 'status_class=5xx': 0, 'status_class=network': 0, 'status_class=aborted': 0,
    });
    expect(await samples(registry, 'cc_events_counts_persisted')).toEqual({ '': 1 });
  });

  it('a new process goes on from the committed counts: rows written while none ran are counted once', async () => {
    const first = start();
    await collect(first.collector);
    await insert('payment_failure', { provider: 'stripe', reason: 'card_declined' }, 2);
    await insert('api_latency', { endpoint: '/rest/v1/orders', latency_ms: 120, status: 503 });
    await collect(first.collector);
    expect(await total(first.registry, 'payment_failure')).toBe(2);
    // The process is gone without a word (as after SIGKILL); rows arrive meanwhile.
    await insert('payment_failure', { provider: 'stripe', reason: 'expired' }, 3);
    const second = start();
    await collect(second.collector);
    expect(await total(second.registry, 'payment_failure')).toBe(5);
    expect(await samples(second.registry, 'cc_payment_failures_total')).toEqual({
      'provider=stripe,reason=card_declined': 2,
      'provider=stripe,reason=expired': 3,
    });
    expect((await samples(second.registry, 'cc_api_requests_total'))['status_class=5xx']).toBe(1);
    expect(await samples(second.registry, 'cc_api_request_duration_seconds_count', DIMENSIONS)).toEqual({ 'endpoint=/rest/v1/orders,method=unknown,status_class=5xx': 1 });
    expect((await samples(second.registry, 'cc_api_request_duration_seconds_bucket', DIMENSIONS))['le=0.25,endpoint=/rest/v1/orders,method=unknown,status_class=5xx']).toBe(1);
    expect(await samples(second.registry, 'cc_events_pending')).toEqual({ '': 0 });
  });

  it('restores the series budget with the counts: a new process admits no series past it', async () => {
    const budgets = { seriesBudgets: { ...SERIES_BUDGET_DEFAULTS, cc_user_actions_total: 2 } };
    const first = start(budgets);
    await collect(first.collector);
    await insert('user_action', { action: 'a' });
    await insert('user_action', { action: 'b' });
    await collect(first.collector);
    const second = start(budgets);
    await insert('user_action', { action: 'c' });
    await collect(second.collector);
    expect(await samples(second.registry, 'cc_user_actions_total', DIMENSIONS)).toEqual({ 'action=a': 1, 'action=b': 1, 'action=other': 1 });
    expect((await samples(second.registry, 'cc_label_overflow_total'))['family=cc_user_actions_total']).toBe(1);
  });

  it('counts committed before the service, env and release labels go on under "unknown": no reset, no counter down, the budget kept', async () => {
    const budgets = { seriesBudgets: { ...SERIES_BUDGET_DEFAULTS, cc_user_actions_total: 2 } };
    const first = start(budgets);
    await collect(first.collector);
    await insert('user_action', { action: 'a' }, 3);
    await insert('user_action', { action: 'b' });
    await collect(first.collector);
    // What a version without the labels committed: the same state with them taken out.
    await client.query(`
      UPDATE observability.event_counter_state
         SET counts = jsonb_set(jsonb_set(counts::jsonb, '{counters,cc_user_actions_total}',
               (SELECT jsonb_agg(jsonb_build_array(jsonb_build_object('action', e -> 0 ->> 'action'), e -> 1))
                  FROM jsonb_array_elements(counts::jsonb -> 'counters' -> 'cc_user_actions_total') e)),
             '{budget,families,cc_user_actions_total}',
               (SELECT jsonb_agg(jsonb_build_array(jsonb_build_object('action', (e ->> 0)::jsonb ->> 'action')::text, e -> 1))
                  FROM jsonb_array_elements(counts::jsonb -> 'budget' -> 'families' -> 'cc_user_actions_total') e))::json`);
    const { rows: [old] } = await client.query(`SELECT counts::text FROM observability.event_counter_state`);
    expect(old.counts).not.toContain('release');
    const second = start(budgets);
    await insert('user_action', { action: 'c' });
    await insert('user_action', { action: 'a' });
    await collect(second.collector);
    expect(await samples(second.registry, 'cc_user_actions_total')).toEqual({
      'action=a,service=unknown,env=unknown,release=unknown': 4,
      'action=b,service=unknown,env=unknown,release=unknown': 1,
      'action=other,service=other,env=other,release=other': 1,
    });
    expect(await samples(second.registry, 'cc_events_cursor_resets_total')).toEqual({ 'reason=cluster_changed': 0, 'reason=cursor_ahead': 0, 'reason=corrupt': 0 });
  });

  it('a new process serves nothing until it has read every row settled since the last checkpoint, then each once', async () => {
    const first = start({ checkpointIntervalMs: 3_600_000 }); // one checkpoint, at its start
    await collect(first.collector);
    await insert('page_view', { page: '/' }, 250); // 2 batches of 50 per scrape
    await collect(first.collector);
    expect(await total(first.registry, 'page_view')).toBe(100); // served, not checkpointed
    // Killed: the next process starts from the checkpoint, before the 100 served rows.
    const second = start({ checkpointIntervalMs: 3_600_000, maxBatchesPerScrape: 1 }); // catching up reads 10 batches a scrape
    await insert('page_view', { page: '/' }, 450);
    await collect(second.collector);
    expect(await samples(second.registry, 'cc_events_total')).toEqual({}); // 500 of 700 read: nothing served yet
    await collect(second.collector);
    expect(await total(second.registry, 'page_view')).toBe(700); // never below the 100 served before
    await collect(second.collector);
    expect(await total(second.registry, 'page_view')).toBe(700);
  });

  it('two replicas on one database serve the same counts, each row counted once', async () => {
    const a = start({ instance: 'a' });
    const b = start({ instance: 'b' });
    await collect(a.collector);
    await collect(b.collector);
    for (let round = 0; round < 6; round++) {
      await insert('payment_failure', { provider: 'p', reason: 'r' }, round + 1);
      await collect(round % 2 === 0 ? a.collector : b.collector);
    }
    await collect(a.collector);
    await collect(b.collector);
    expect(await total(a.registry, 'payment_failure')).toBe(21);
    expect(await total(b.registry, 'payment_failure')).toBe(21);
  });

  // PGlite is one session: no other transaction can come between two statements there.
  it.skipIf(kind === 'pglite')(`the first start on a busy server places its cursor in this cluster: no reset when other transactions end between its statements${kind === 'pglite' ? ' (skipped: PGlite is one session)' : ''}`, async () => {
    const other = await connect(db);
    try {
      // After the checkpoint's first snapshot, other sessions take and commit transaction ids,
      // as on a server where other databases are busy: the start cursor is then past it.
      const busy: Queryable = {
        query: async (text: string, values?: unknown[]) => {
          const result = await client.query(text, values);
          if (text === SNAPSHOT) for (let i = 0; i < 3; i++) await other.query('SELECT pg_current_xact_id()');
          return result;
        },
      } as Queryable;
      const { logger, lines } = recordingLogger();
      const { registry, collector } = start({ logger });
      await collector.collect(busy);
      await insert('payment_failure', { provider: 'p', reason: 'r' }, 2);
      await collect(collector);
      expect(await samples(registry, 'cc_events_cursor_resets_total')).toEqual({ 'reason=cluster_changed': 0, 'reason=cursor_ahead': 0, 'reason=corrupt': 0 });
      expect(lines().filter((l) => String(l.msg).startsWith('event cursor reset'))).toEqual([]);
      expect(await total(registry, 'payment_failure')).toBe(2);
    } finally {
      await other.end();
    }
  });

  it('a cursor ahead of this cluster (or from another cluster) is reset, counted and logged once; counts kept, new rows counted', async () => {
    const { logger, lines } = recordingLogger();
    const first = start({ logger });
    await collect(first.collector);
    await insert('payment_failure', { provider: 'p', reason: 'r' });
    await collect(first.collector);
    await client.query(`UPDATE observability.event_counter_state SET tx = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000)::text::xid8`);
    const second = start({ logger });
    await collect(second.collector);
    await insert('payment_failure', { provider: 'p', reason: 'r' }, 2);
    await collect(second.collector);
    await collect(second.collector);
    expect(await total(second.registry, 'payment_failure')).toBe(3);
    expect(await samples(second.registry, 'cc_events_cursor_resets_total')).toEqual({
      'reason=cluster_changed': 0, 'reason=cursor_ahead': 1, 'reason=corrupt': 0,
    });
    expect(lines().filter((l) => l.msg.startsWith('event cursor reset')).map((l) => l.reason)).toEqual(['cursor_ahead']);
    expect(lines().filter((l) => l.msg.startsWith('event cursor reset'))[0]!.level).toBe(40); // warn

    await client.query(`UPDATE observability.event_counter_state SET cluster = '1234'`);
    await collect(second.collector);
    await insert('payment_failure', { provider: 'p', reason: 'r' });
    await collect(second.collector);
    expect(await total(second.registry, 'payment_failure')).toBe(4);
    expect((await samples(second.registry, 'cc_events_cursor_resets_total'))['reason=cluster_changed']).toBe(1);
    expect(lines().filter((l) => l.msg.startsWith('event cursor reset')).map((l) => l.reason)).toEqual(['cursor_ahead', 'cluster_changed']);
  });

  it('a database swapped under a running exporter (another cluster) is noticed at its next checkpoint: reset once, counters kept', async () => {
    const { logger, lines } = recordingLogger();
    const { registry, collector } = start({ logger });
    await collect(collector);
    await insert('payment_failure', { provider: 'p', reason: 'r' }, 2);
    await collect(collector);
    const { rows: [definition] } = await client.query<{ body: string }>(`SELECT pg_get_functiondef('observability.cluster_identity()'::regprocedure) AS body`);
    const body = definition!.body;
    // The cluster this process sees from now on is another one: its own cursor belongs to the old.
    await client.query(`CREATE OR REPLACE FUNCTION observability.cluster_identity() RETURNS text LANGUAGE sql AS $$ SELECT 'another-cluster' $$`);
    try {
      await collect(collector);
      await insert('payment_failure', { provider: 'p', reason: 'r' });
      await collect(collector);
      await collect(collector);
      expect(await total(registry, 'payment_failure')).toBe(3);
      expect((await samples(registry, 'cc_events_cursor_resets_total'))['reason=cluster_changed']).toBe(1);
      expect(lines().filter((l) => l.msg.startsWith('event cursor reset')).map((l) => l.reason)).toEqual(['cluster_changed']);
      const { rows } = await client.query<{ cluster: string }>('SELECT cluster FROM observability.event_counter_state');
      expect(rows).toEqual([{ cluster: 'another-cluster' }]);
    } finally {
      await client.query(body);
    }
  });

  it('unreadable committed counts: reset as corrupt, the process keeps what it served and the cursor stays', async () => {
    const { registry, collector } = start();
    await collect(collector);
    await insert('page_view', { page: '/' }, 3);
    await collect(collector);
    await client.query(`UPDATE observability.event_counter_state SET counts = '{"format": 1, "counters": {"cc_events_total": [[{"event_type": 5}, -1]]}, "histograms": {}}', version = version + 1`);
    await insert('page_view', { page: '/' }, 2);
    await collect(collector);
    await collect(collector);
    expect(await total(registry, 'page_view')).toBe(5);
    expect((await samples(registry, 'cc_events_cursor_resets_total'))['reason=corrupt']).toBe(1);
  });

  it('rows from another cluster (tx ahead of the counter) are restored history: counted apart, never as events, never pending', async () => {
    const { logger, lines } = recordingLogger();
    const { registry, collector } = start({ logger });
    await collect(collector);
    // A dump from a cluster whose counter was further on: tx values this cluster has not reached.
    await client.query(
      `INSERT INTO runtime_metrics (event_type, event_data, tx)
       SELECT t, '{"provider": "old", "reason": "restored"}', (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 500000 + g)::text::xid8
         FROM unnest(ARRAY['payment_failure', 'payment_failure', 'page_view']) WITH ORDINALITY AS r(t, g)`,
    );
    await insert('payment_failure', { provider: 'new', reason: 'declined' });
    await collector.collect(client); // rows ahead of the counter never look settled: no waiting here
    await collect(collector);
    expect(await total(registry, 'payment_failure')).toBe(1);
    expect(await samples(registry, 'cc_payment_failures_total')).toEqual({ 'provider=new,reason=declined': 1 });
    expect(await samples(registry, 'cc_events_restored_total')).toEqual({ 'event_type=payment_failure': 2, 'event_type=page_view': 1 });
    expect(await samples(registry, 'cc_events_pending')).toEqual({ '': 0 });
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM runtime_metrics WHERE tx = '0'`);
    expect(Number(rows[0]!.n)).toBe(3);
    expect(lines().filter((l) => String(l.msg).includes('another cluster')).map((l) => l.rows)).toEqual([3]);
  });

  it('without migration 009: counts in memory from the end of the table, and says so', async () => {
    await client.query('ALTER TABLE observability.event_counter_state RENAME TO event_counter_state_away');
    try {
      const { logger, lines } = recordingLogger();
      const { registry, collector } = start({ logger });
      await insert('page_view', { page: '/' }, 2); // before the start: not counted
      await collect(collector);
      await insert('page_view', { page: '/' }, 3);
      await collect(collector);
      expect(await total(registry, 'page_view')).toBe(3);
      expect(await samples(registry, 'cc_events_counts_persisted')).toEqual({ '': 0 });
      expect(collector.status?.()).toMatch(/npm run db:migrate/);
      expect(lines().filter((l) => String(l.msg).includes('npm run db:migrate'))).toHaveLength(1);

      // The exporter says so on /readyz, and stays ready.
      const exporter = await startExporter(db.connectionString, { COLLECTORS: 'events', DB_POOL_MAX: '1' });
      try {
        await exporter.scraper.refresh();
        const ready = await exporter.get('/readyz');
        expect(ready.status).toBe(200);
        expect(JSON.parse(ready.body)).toEqual({
          status: 'ready',
          notes: ['event counts are kept in this process only (observability.event_counter_state is missing; run: npm run db:migrate)'],
        });
      } finally {
        await exporter.stop();
      }
    } finally {
      await client.query('ALTER TABLE observability.event_counter_state_away RENAME TO event_counter_state');
    }
  });
});

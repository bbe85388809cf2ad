// A property over random interleavings of what production does to the event counts: writers
// whose transactions commit out of id order, exporter replicas restarted cleanly or killed in the
// middle of a count, their database connections cut, and extra scrapers. Prometheus is modelled
// as the rules read it: each scrape of a replica is a sample; the record cc:events_total:max is
// the maximum of each replica's last sample; increase() adds every rise and, on a fall, the new
// value (a counter reset). Invariant: per event type the record's total increase equals what SQL
// counts, and it never falls (a fall would page for old payment failures). Checkpoints of the
// counts are committed at every scrape, or only when a process starts.
import fc from 'fast-check';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, waitUntilSettled, type TestDatabase } from '../support/databases.js';
import { samples } from '../support/metrics.js';
import { createEventsCollector, SERIES_BUDGET_DEFAULTS } from '../../src/collectors/events.js';
import type { Collector } from '../../src/collectors/types.js';

const TYPES = ['payment_failure', 'page_view', 'api_latency'] as const;

type Op =
  | { kind: 'write'; type: number; rows: number; late: boolean }
  | { kind: 'commit' }
  | { kind: 'scrape'; replica: number; by: 'prometheus' | 'foreign' }
  | { kind: 'restart'; replica: number; how: 'sigterm' | 'sigkill-mid-count' }
  | { kind: 'outage'; replica: number };

function ops(replicas: number, concurrent: boolean): fc.Arbitrary<Op[]> {
  const replica = fc.integer({ min: 0, max: replicas - 1 });
  return fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), type: fc.integer({ min: 0, max: TYPES.length - 1 }), rows: fc.integer({ min: 1, max: 8 }), late: concurrent ? fc.boolean() : fc.constant(false) }) },
      { weight: concurrent ? 2 : 0, arbitrary: fc.record({ kind: fc.constant('commit' as const) }) },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('scrape' as const), replica, by: fc.constantFrom('prometheus' as const, 'foreign' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), replica, how: fc.constantFrom('sigterm' as const, 'sigkill-mid-count' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('outage' as const), replica }) },
    ),
    { minLength: 5, maxLength: 40 },
  );
}

interface Replica {
  client: pg.Client;
  registry: Registry;
  collector: Collector;
}

describeEachBackend('event counts under restarts, replicas, outages and extra scrapers (property)', (kind) => {
  const concurrent = kind === 'postgres';
  const replicaCount = concurrent ? 2 : 1;
  const runs = concurrent ? 50 : 30;
  let db: TestDatabase;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    admin = new pg.Client({ connectionString: db.connectionString });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await db?.stop();
  });

  it(`the record's increase equals the SQL count per type, and never falls (${runs} runs)`, async () => {
    await fc.assert(
      // Checkpoints at every scrape, or only at each start (a new process recounts everything since).
      fc.asyncProperty(ops(replicaCount, concurrent), fc.constantFrom(0, 3_600_000), async (plan, checkpointIntervalMs) => {
        await admin.query('TRUNCATE runtime_metrics, observability.event_counter_state');
        const open: pg.Client[] = [];
        const replicas: Replica[] = [];
        /** Prometheus' last sample per replica, per type; the record's history per type */
        const last: (Record<string, number> | undefined)[] = [];
        const record: Record<string, number[]> = Object.fromEntries(TYPES.map((t) => [t, []]));

        const start = async (i: number) => {
          // PGlite is one session: there the replica shares the admin connection.
          const client = concurrent ? new pg.Client({ connectionString: db.connectionString }) : admin;
          if (concurrent) {
            client.on('error', () => undefined);
            await client.connect();
          }
          const registry = new Registry();
          replicas[i] = { client, registry, collector: createEventsCollector(registry, { batchSize: 2, maxBatchesPerScrape: 1, checkpointIntervalMs, lookbackSeconds: 0, seriesBudgets: SERIES_BUDGET_DEFAULTS, seriesIdleMs: 3_600_000, routePatterns: [], instance: `r${i}` }) };
        };
        const stop = async (i: number) => {
          if (concurrent) await replicas[i]!.client.end().catch(() => undefined);
        };
        const scrape = async (i: number, by: 'prometheus' | 'foreign') => {
          const r = replicas[i]!;
          try {
            await r.collector.collect(r.client);
          } catch {
            r.collector.clear(); // as the scraper does
          }
          if (by === 'foreign') return;
          const totals = await samples(r.registry, 'cc_events_total');
          // A scrape without the series (counts not read yet) is no sample: Prometheus marks it stale.
          if (Object.keys(totals).length === 0) return;
          last[i] = Object.fromEntries(TYPES.map((t) => [t, totals[`event_type=${t}`] ?? 0]));
          for (const t of TYPES) record[t]!.push(Math.max(...last.filter((l) => l !== undefined).map((l) => l![t]!)));
        };

        for (let i = 0; i < replicaCount; i++) await start(i);
        // Prometheus was scraping before anything was written: its first samples are 0.
        for (let i = 0; i < replicaCount; i++) await scrape(i, 'prometheus');
        for (const op of plan) {
          switch (op.kind) {
            case 'write': {
              const writer = concurrent ? new pg.Client({ connectionString: db.connectionString }) : admin;
              if (concurrent) await writer.connect();
              if (op.late) await writer.query('BEGIN');
              await writer.query(`INSERT INTO runtime_metrics (event_type, event_data) SELECT $1, '{"status": 200, "latency_ms": 5}' FROM generate_series(1, $2)`, [TYPES[op.type], op.rows]);
              if (op.late) open.push(writer);
              else if (concurrent) await writer.end();
              break;
            }
            case 'commit': {
              const writer = open.shift();
              if (writer) {
                await writer.query('COMMIT');
                await writer.end();
              }
              break;
            }
            case 'scrape':
              await scrape(op.replica, op.by);
              break;
            case 'restart':
              if (op.how === 'sigkill-mid-count' && concurrent) {
                // The connection dies while a count is in flight: its transaction never commits.
                const r = replicas[op.replica]!;
                const { rows } = await r.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
                const counting = r.collector.collect(r.client).catch(() => undefined);
                await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
                await counting;
              } else {
                await stop(op.replica);
              }
              await start(op.replica);
              break;
            case 'outage': {
              if (!concurrent) break;
              const r = replicas[op.replica]!;
              const { rows } = await r.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
              await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
              await scrape(op.replica, 'prometheus'); // fails: no series served
              await stop(op.replica);
              await start(op.replica); // the pool would reconnect
              break;
            }
          }
        }
        for (const writer of open.splice(0)) {
          await writer.query('COMMIT');
          await writer.end();
        }
        await waitUntilSettled(admin);
        // Scrape until every replica has read everything.
        for (let round = 0; round < 200; round++) {
          for (let i = 0; i < replicaCount; i++) await scrape(i, 'prometheus');
          const pending = await Promise.all(replicas.map(async (r) => (await samples(r.registry, 'cc_events_pending'))['']));
          if (pending.every((n) => n === 0)) break;
        }
        for (let i = 0; i < replicaCount; i++) await scrape(i, 'prometheus');
        const { rows } = await admin.query<{ event_type: string; n: string }>('SELECT event_type, count(*) AS n FROM runtime_metrics GROUP BY event_type');
        const inSql = Object.fromEntries(TYPES.map((t) => [t, Number(rows.find((r) => r.event_type === t)?.n ?? 0)]));
        for (const t of TYPES) {
          const series = record[t]!;
          let increase = 0;
          let falls = 0;
          for (let k = 1; k < series.length; k++) {
            const delta = series[k]! - series[k - 1]!;
            if (delta >= 0) increase += delta;
            else {
              falls++;
              increase += series[k]!;
            }
          }
          expect({ type: t, first: series[0], increase, falls }).toEqual({ type: t, first: 0, increase: inSql[t], falls: 0 });
        }
        for (let i = 0; i < replicaCount; i++) await stop(i);
      }),
      { numRuns: runs, seed: Number(process.env.PROPERTY_SEED ?? 20261203), endOnFailure: true },
    );
  }, 300_000);
});

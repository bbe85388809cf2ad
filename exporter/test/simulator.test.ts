// The demo simulator writes what the app would: web vitals in their units (CLS unitless, the
// others in milliseconds), browser and edge rows with the seed's production release.
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { startSimulator } from '../src/simulator.js';
import { connect, createTestDatabase, describeEachBackend, type TestDatabase } from './support/databases.js';

describeEachBackend('demo simulator', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(kind, { seed: true });
    client = await connect(db);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  it('writes web vitals in their units and names the release they come from', async () => {
    const simulator = startSimulator(client, { intervalMs: 3_600_000, logger: createLogger('silent') });
    for (let i = 0; i < 120; i++) await simulator.tick();
    await simulator.stop();
    const { rows } = await client.query<{ metric: string; value: number; release: string | null }>(
      `SELECT event_data ->> 'metric' AS metric, (event_data ->> 'value')::float8 AS value, event_data ->> 'release' AS release
         FROM runtime_metrics WHERE event_type = 'performance' AND session_id LIKE 'sim-%'`);
    expect(rows.length).toBeGreaterThan(10);
    for (const r of rows) {
      if (r.metric === 'CLS') expect(r.value, 'CLS').toBeLessThanOrEqual(0.4);
      else expect(r.value, r.metric).toBeLessThanOrEqual(3000);
      expect(r.release).toBe('1.9.1');
    }
    // over 120 ticks the five vitals all show up, CLS among them with a unitless value
    expect(new Set(rows.map((r) => r.metric)).size).toBe(5);
  });
});

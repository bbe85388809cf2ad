import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase, describeEachBackend, type TestDatabase } from '../support/databases.js';
import { samples } from '../support/metrics.js';
import { CONNECTION_STATES, createDatabaseCollector } from '../../src/collectors/database.js';

describeEachBackend('database collector', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(kind, { app: false, migrations: false });
    client = await connect(db);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  it('reports connections by state, max connections, size and the configured limit', async () => {
    const registry = new Registry();
    await createDatabaseCollector(registry, { sizeLimitBytes: 8 * 2 ** 30 }).collect(client);

    const truth = await client.query<{ max: number; size: number }>(
      `SELECT current_setting('max_connections')::int AS max, pg_database_size(current_database())::float8 AS size`,
    );
    expect(await samples(registry, 'cc_db_max_connections')).toEqual({ '': truth.rows[0]!.max });
    const size = (await samples(registry, 'cc_db_size_bytes'))['']!;
    expect(size).toBeGreaterThan(1_000_000);
    expect(Math.abs(size - truth.rows[0]!.size)).toBeLessThan(1_000_000);
    expect(await samples(registry, 'cc_db_size_limit_bytes')).toEqual({ '': 8 * 2 ** 30 });

    const connections = await samples(registry, 'cc_db_connections');
    for (const state of CONNECTION_STATES) expect(connections).toHaveProperty(`state=${state}`);
    // This very query was running, so at least one connection is active.
    expect(connections['state=active']).toBeGreaterThanOrEqual(1);
  });

  it('counts idle connections of other clients', async () => {
    if (kind === 'pglite') return; // one session only: there are no other clients
    const others = await Promise.all([connect(db), connect(db)]);
    try {
      const registry = new Registry();
      await createDatabaseCollector(registry, { sizeLimitBytes: 0 }).collect(client);
      expect((await samples(registry, 'cc_db_connections'))['state=idle']).toBeGreaterThanOrEqual(2);
      expect(await samples(registry, 'cc_db_size_limit_bytes')).toEqual({});
    } finally {
      await Promise.all(others.map((c) => c.end()));
    }
  });
});

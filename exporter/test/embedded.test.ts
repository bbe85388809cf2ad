// The embedded database behind the exporter's own pool (one connection), as `npm start` runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../src/db.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../src/embedded.js';
import { silentLogger } from './support/databases.js';

describe('embedded database through a pool of one', () => {
  let embedded: EmbeddedDatabase;
  let pool: Pool;

  beforeAll(async () => {
    embedded = await startEmbeddedDatabase();
    pool = createPool(embedded.connectionString, { poolMax: 1, applicationName: 'embedded-test', statementTimeoutMs: 5000, lockTimeoutMs: 1000, connectTimeoutMs: 3000 }, silentLogger);
  });
  afterAll(async () => {
    await pool?.end();
    await embedded?.stop();
  });

  it('answers the statement right after a failed one (the pool replaces the client after an error)', async () => {
    const outcome = async (sql: string) =>
      pool.query<{ n: number }>(sql).then(
        (r) => `ok ${r.rows[0]?.n}`,
        (err: Error) => `error: ${err.message}`,
      );
    const results: string[] = [];
    for (const sql of ['SELECT 1 AS n', 'SELECT * FROM not_there', 'SELECT 2 AS n', 'SELECT 1/0 AS n', 'SELECT 1/0 AS n', 'SELECT 3 AS n']) results.push(await outcome(sql));
    expect(results).toEqual(['ok 1', 'error: relation "not_there" does not exist', 'ok 2', 'error: division by zero', 'error: division by zero', 'ok 3']);
  });

  it('runs concurrent callers one after another on its one connection, failures included', async () => {
    const sqls = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? 'SELECT 1/0 AS n' : `SELECT ${i} AS n`));
    const results = await Promise.allSettled(sqls.map((sql) => pool.query<{ n: number }>(sql)));
    results.forEach((r, i) => {
      if (i % 3 === 0) expect(r.status === 'rejected' && (r.reason as Error).message, `statement ${i}`).toBe('division by zero');
      else expect(r.status === 'fulfilled' && r.value.rows[0]!.n, `statement ${i}`).toBe(i);
    });
  });
});

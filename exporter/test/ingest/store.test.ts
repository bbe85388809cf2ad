// The insert as the exporter's own role, cc_exporter, which may write exactly the payload
// columns of runtime_metrics: the receiver's SQL must live within that grant.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase, describeEachBackend, type TestDatabase } from '../support/databases.js';
import { storedEvents } from '../support/otlp.js';
import { insertRows, isRetryable, pruneDigests } from '../../src/ingest/store.js';

describeEachBackend('storing rows as cc_exporter', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    client = await connect(db);
    await client.query('SET ROLE cc_exporter');
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  it('inserts every row of a request in one statement, within the grant', async () => {
    await insertRows(client, [
      { createdAt: '2025-01-15T12:00:00.123456Z', sessionId: 's1', eventType: 'page_view', eventData: { page: '/', referrer: null, userAgent: 'UA "quoted" {braces}, commas' } },
      { createdAt: '2025-01-15T12:00:01.000000Z', sessionId: null, eventType: 'error', eventData: { error_type: 'E', message: 'a\\b\n"c"', stack: null, url: null } },
    ]);
    expect(await storedEvents(client)).toEqual([
      { created_at: '2025-01-15T12:00:00.123456Z', session_id: 's1', event_type: 'page_view', event_data: { page: '/', referrer: null, userAgent: 'UA "quoted" {braces}, commas' } },
      { created_at: '2025-01-15T12:00:01.000000Z', session_id: null, event_type: 'error', event_data: { error_type: 'E', message: 'a\\b\n"c"', stack: null, url: null } },
    ]);
    await insertRows(client, []); // nothing to do, no statement
  });

  it('stores a request with a digest once, and prunes digests older than the window, within the grant', async () => {
    const row = { createdAt: '2025-01-15T12:00:02.000000Z', sessionId: 'digest', eventType: 'page_view' as const, eventData: { page: '/d' } };
    const digest = createHash('sha256').update('a request body').digest();
    expect(await insertRows(client, [row, row], digest)).toBe(true);
    expect(await insertRows(client, [row, row], digest)).toBe(false);
    expect(await storedEvents(client, `session_id = 'digest'`)).toHaveLength(2);

    // Two digests from two hours ago (written as the owner: received_at is not the exporter's to set).
    const old = [createHash('sha256').update('old 1').digest(), createHash('sha256').update('old 2').digest()];
    await client.query('RESET ROLE');
    await client.query(`INSERT INTO observability.otlp_request_digests (digest, received_at) SELECT d, now() - interval '2 hours' FROM unnest($1::bytea[]) AS d`, [old]);
    await client.query('SET ROLE cc_exporter');
    expect(await pruneDigests(client, 60)).toBe(2);
    const { rows } = await client.query<{ digest: Buffer }>('SELECT digest FROM observability.otlp_request_digests');
    expect(rows.map((r) => r.digest.toString('hex'))).toEqual([digest.toString('hex')]);
    expect(await pruneDigests(client, 60)).toBe(0);
    // An old digest is gone, so that body would be stored again: the window bounds the table.
    expect(await insertRows(client, [{ ...row, sessionId: 'old-1' }], old[0])).toBe(true);
  });

  it('could not write a column outside the grant (the role is really in force)', async () => {
    const err = await client.query(`INSERT INTO public.runtime_metrics (id, event_type) VALUES (999999, 'x')`).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('42501');
    expect(isRetryable(err)).toBe(true); // a missing grant is an operator's fix away: 503, not 500
  });

  it('calls a data error a bug (not retryable) and a lost connection retryable', async () => {
    const err = await client.query(`SELECT 'x'::jsonb`).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('22P02');
    expect(isRetryable(err)).toBe(false);
    expect(isRetryable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isRetryable(new TypeError('x is not a function'))).toBe(false);
  });
});

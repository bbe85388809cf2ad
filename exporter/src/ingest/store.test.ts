// The span store's decisions, on a fake database: which statement a request gets, the fallback
// while the digest table is missing, the failing and recovered states (each logged once) and the
// cadence of pruning. The statements themselves run on real databases in
// exporter/test/ingest/store.test.ts, the receiver around them in exporter/test/ingest/otlp*.test.ts.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../db.js';
import { createLogger } from '../log.js';
import type { NewEventRow } from './spans.js';
import { createSpanStore, DIGESTS_RECHECK_MS, INSERT_EVENTS, INSERT_EVENTS_ONCE, PRUNE_DIGESTS, SpanStoreUnavailableError } from './store.js';

type Statement = 'insert' | 'insert-once' | 'prune';
type Answer = { rowCount: number } | Error | Promise<{ rowCount: number }>;

const STATEMENTS = new Map<string, Statement>([[INSERT_EVENTS, 'insert'], [INSERT_EVENTS_ONCE, 'insert-once'], [PRUNE_DIGESTS, 'prune']]);

/**
 * A database that records each statement and answers through `respond` (default: every row
 * stored, nothing pruned).
 */
function fakeDatabase() {
  const statements: { statement: Statement; values: unknown[] }[] = [];
  const fake = {
    statements,
    respond: (_statement: Statement, values: unknown[]): Answer => ({ rowCount: (values[0] as unknown[] | undefined)?.length ?? 0 }),
    db: {
      async query<R extends object>(text: string, values: unknown[] = []): Promise<{ rows: R[]; rowCount: number }> {
        const statement = STATEMENTS.get(text);
        if (statement === undefined) throw new Error(`unexpected statement: ${text}`);
        statements.push({ statement, values });
        const answer = await fake.respond(statement, values);
        if (answer instanceof Error) throw answer;
        return { rows: [], rowCount: answer.rowCount };
      },
    } satisfies Queryable,
    /** the statements run so far, by kind, and forgets them */
    take(): Statement[] {
      return statements.splice(0).map((s) => s.statement);
    },
  };
  return fake;
}

function captureLog() {
  const lines: { level: number; msg: string; err?: string; deleted?: number }[] = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  return { logger, lines, messages: () => lines.map((l) => l.msg) };
}

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function databaseError(message: string, code: string): pg.DatabaseError {
  const err = new pg.DatabaseError(message, message.length, 'error');
  err.code = code;
  return err;
}

const missingDigestTable = () => databaseError('relation "observability.otlp_request_digests" does not exist', '42P01');
const connectionLost = () => new Error('Connection terminated unexpectedly');

const row = (page: string): NewEventRow => ({ createdAt: '2025-01-15T12:00:00.000000Z', sessionId: 's', eventType: 'page_view', eventData: { page } });
const rows = [row('/a'), row('/b')];
const digest = (n: number) => Buffer.alloc(32, n);

/** Lets the pruning, which nobody awaits, finish: the fake database answers within microtasks. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const WINDOW_MINUTES = 60;
const PRUNE_EVERY_MS = (WINDOW_MINUTES * 60_000) / 4;

function setup() {
  const fake = fakeDatabase();
  const log = captureLog();
  const time = clock();
  const store = createSpanStore({ db: fake.db, logger: log.logger, dedupeWindowMinutes: WINDOW_MINUTES, now: time.now });
  return { fake, log, time, store };
}

describe('span store', () => {
  it('inserts plainly without a digest, once with one, and nothing for no rows', async () => {
    const { fake, store } = setup();
    expect(await store.store(rows, undefined)).toBe('stored');
    expect(fake.take()).toEqual(['insert']);
    expect(await store.store([], undefined)).toBe('stored');
    expect(fake.take()).toEqual([]);

    expect(await store.store(rows, digest(1))).toBe('stored');
    expect(fake.statements.find((s) => s.statement === 'insert-once')!.values[4]).toEqual(digest(1));
    expect(fake.take()).toEqual(['insert-once', 'prune']);
    fake.respond = (statement, values) => ({ rowCount: statement === 'insert-once' ? 0 : (values[0] as unknown[]).length });
    expect(await store.store(rows, digest(1))).toBe('replay');
  });

  describe('without the digest table (migration 008 not applied)', () => {
    it('stores plainly with one warning, and looks for the table again only after DIGESTS_RECHECK_MS', async () => {
      const { fake, log, time, store } = setup();
      fake.respond = (statement, values) => (statement === 'insert-once' ? missingDigestTable() : { rowCount: (values[0] as unknown[]).length });

      expect(await store.store(rows, digest(1))).toBe('stored');
      expect(fake.take()).toEqual(['insert-once', 'insert']); // tried with the digest, then without; no pruning
      expect(await store.store(rows, digest(1))).toBe('stored'); // a replay is stored again: the old behaviour
      expect(fake.take()).toEqual(['insert']);
      time.advance(DIGESTS_RECHECK_MS - 1);
      await store.store(rows, digest(2));
      expect(fake.take()).toEqual(['insert']);

      time.advance(1);
      await store.store(rows, digest(3));
      expect(fake.take()).toEqual(['insert-once', 'insert']); // still missing
      const warnings = log.lines.filter((l) => l.msg.startsWith('OTLP replays cannot be recognised'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, err: expect.stringContaining('run: npm run db:migrate') });
      await settle();
      expect(log.messages()).not.toContain('OTLP request digests pruned');
    });

    it('recognises replays again once the table is there, says so once, and prunes again', async () => {
      const { fake, log, time, store } = setup();
      fake.respond = (statement, values) => (statement === 'insert-once' ? missingDigestTable() : { rowCount: (values[0] as unknown[]).length });
      await store.store(rows, digest(1));
      fake.take();

      fake.respond = (statement, values) => ({ rowCount: statement === 'prune' ? 3 : (values[0] as unknown[]).length });
      time.advance(DIGESTS_RECHECK_MS);
      expect(await store.store(rows, digest(2))).toBe('stored');
      expect(fake.take()).toEqual(['insert-once', 'prune']);
      expect(await store.store(rows, digest(3))).toBe('stored');
      expect(fake.take()).toEqual(['insert-once']);
      await settle();
      expect(log.lines.filter((l) => l.msg === 'OTLP request digests table found: replays are recognised again')).toHaveLength(1);
      expect(log.lines.find((l) => l.msg === 'OTLP request digests pruned')).toMatchObject({ deleted: 3 });
    });

    it('takes a missing runtime_metrics for what it is: unavailable, not a missing digest table', async () => {
      const { fake, store } = setup();
      fake.respond = () => databaseError('relation "public.runtime_metrics" does not exist', '42P01');
      await expect(store.store(rows, digest(1))).rejects.toBeInstanceOf(SpanStoreUnavailableError);
      expect(fake.take()).toEqual(['insert-once']);
    });
  });

  describe('Postgres failing', () => {
    it('throws SpanStoreUnavailableError while it fails, logs the failure once and the recovery once', async () => {
      const { fake, log, store } = setup();
      fake.respond = () => connectionLost();
      for (let i = 0; i < 3; i++) {
        const failure = await store.store(rows, digest(i)).catch((err: unknown) => err);
        expect(failure).toBeInstanceOf(SpanStoreUnavailableError);
        expect((failure as SpanStoreUnavailableError).cause).toBeInstanceOf(Error);
      }
      await expect(store.store(rows, undefined)).rejects.toBeInstanceOf(SpanStoreUnavailableError);
      expect(fake.take()).toEqual(['insert-once', 'insert-once', 'insert-once', 'insert']); // no pruning while failing
      const failures = log.lines.filter((l) => l.msg === 'OTLP receiver cannot store spans; answering 503 until Postgres is back');
      expect(failures).toEqual([expect.objectContaining({ level: 50, err: 'Connection terminated unexpectedly' })]);

      fake.respond = (_statement, values) => ({ rowCount: (values[0] as unknown[] | undefined)?.length ?? 0 });
      expect(await store.store([], undefined)).toBe('stored'); // no rows: nothing written, so nothing is known to work again
      expect(log.messages()).not.toContain('OTLP receiver stores spans again');
      expect(await store.store(rows, digest(9))).toBe('stored');
      expect(await store.store(rows, digest(10))).toBe('stored');
      expect(log.lines.filter((l) => l.msg === 'OTLP receiver stores spans again')).toEqual([expect.objectContaining({ level: 30 })]);

      // Failing again after the recovery is logged again.
      fake.respond = () => connectionLost();
      await expect(store.store(rows, undefined)).rejects.toBeInstanceOf(SpanStoreUnavailableError);
      expect(log.lines.filter((l) => l.msg.startsWith('OTLP receiver cannot store spans'))).toHaveLength(2);
    });

    it('passes an error that retrying cannot cure through as it is, without entering the failing state', async () => {
      const { fake, log, store } = setup();
      const bug = new TypeError('a bug');
      fake.respond = () => bug;
      await expect(store.store(rows, undefined)).rejects.toBe(bug);
      fake.respond = () => databaseError('invalid input syntax for type json', '22P02');
      await expect(store.store(rows, undefined)).rejects.toMatchObject({ code: '22P02' });
      fake.respond = () => ({ rowCount: 2 });
      await store.store(rows, undefined);
      expect(log.messages()).toEqual([]);
    });
  });

  describe('pruning old digests', () => {
    it('prunes after the first store with a digest, then at most once per quarter window', async () => {
      const { fake, time, store } = setup();
      await store.store(rows, digest(1));
      expect(fake.take()).toEqual(['insert-once', 'prune']);
      await settle();
      time.advance(PRUNE_EVERY_MS - 1);
      await store.store(rows, digest(2));
      expect(fake.take()).toEqual(['insert-once']);
      time.advance(1);
      await store.store(rows, digest(3));
      await store.store(rows, digest(4));
      expect(fake.take()).toEqual(['insert-once', 'prune', 'insert-once']);
    });

    it('sends the window in minutes, and never prunes for requests without a digest', async () => {
      const { fake, store } = setup();
      await store.store(rows, undefined);
      await store.store(rows, undefined);
      expect(fake.take()).toEqual(['insert', 'insert']);
      await store.store(rows, digest(1));
      expect(fake.statements.find((s) => s.statement === 'prune')!.values).toEqual([WINDOW_MINUTES]);
    });

    it('runs one delete at a time: a slow prune is not joined by another', async () => {
      const { fake, time, store } = setup();
      let finish!: (answer: { rowCount: number }) => void;
      fake.respond = (statement, values) => (statement === 'prune' ? new Promise((resolve) => (finish = resolve)) : { rowCount: (values[0] as unknown[]).length });
      await store.store(rows, digest(1));
      time.advance(PRUNE_EVERY_MS * 3);
      await store.store(rows, digest(2)); // due, but the first is still running
      expect(fake.take()).toEqual(['insert-once', 'prune', 'insert-once']);
      finish({ rowCount: 0 });
      await settle();
      await store.store(rows, digest(3)); // due and free: a second delete
      expect(fake.take()).toEqual(['insert-once', 'prune']);
    });

    it('logs a failed prune as a warning, answers the request all the same, and tries again a quarter window later', async () => {
      const { fake, log, time, store } = setup();
      fake.respond = (statement, values) => (statement === 'prune' ? databaseError('canceling statement due to lock timeout', '55P03') : { rowCount: (values[0] as unknown[]).length });
      expect(await store.store(rows, digest(1))).toBe('stored');
      await settle();
      expect(log.lines.filter((l) => l.msg === 'OTLP request digests not pruned; trying again later')).toEqual([
        expect.objectContaining({ level: 40, err: 'canceling statement due to lock timeout' }),
      ]);
      fake.take();
      await store.store(rows, digest(2));
      expect(fake.take()).toEqual(['insert-once']);
      time.advance(PRUNE_EVERY_MS);
      await store.store(rows, digest(3));
      expect(fake.take()).toEqual(['insert-once', 'prune']);
      // A failed prune is not a failing database: the next store says nothing about recovering.
      expect(log.messages()).not.toContain('OTLP receiver stores spans again');
    });
  });
});

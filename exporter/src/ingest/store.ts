// Writing a request's rows: one multi-row INSERT, so a request is stored whole or not at all,
// naming only the payload columns the exporter's role may write (id and tx are never ours).
// With a digest, the same statement records the request's SHA-256 and stores the rows only if
// the digest was new: a client's replay of a stored request stores nothing, even when the two
// copies arrive at once (the second waits on the first's digest, then finds it).
//
// createSpanStore() is what the receiver stores through: the insert, a fallback to plain inserts
// while the digest table is missing (migration 008 not applied), pruning old digests now and
// then, and the "Postgres is failing" state that the receiver answers 503 for.
import pg from 'pg';
import { describeError, type Queryable } from '../db.js';
import type { Logger } from '../log.js';
import type { NewEventRow } from './spans.js';

export const INSERT_EVENTS = `
INSERT INTO public.runtime_metrics (created_at, session_id, event_type, event_data)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::jsonb[])`;

export const INSERT_EVENTS_ONCE = `
WITH first AS (
  INSERT INTO observability.otlp_request_digests (digest) VALUES ($5)
  ON CONFLICT (digest) DO NOTHING
  RETURNING 1
)
INSERT INTO public.runtime_metrics (created_at, session_id, event_type, event_data)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::jsonb[])
 WHERE EXISTS (SELECT 1 FROM first)`;

export const PRUNE_DIGESTS = `
DELETE FROM observability.otlp_request_digests
 WHERE received_at < now() - make_interval(mins => $1::int)`;

/**
 * Stores a request's rows; with `digest` (the SHA-256 of the request body), only if no request
 * with that digest was stored before. Returns false for such a replay, which stored nothing.
 */
export async function insertRows(db: Queryable, rows: readonly NewEventRow[], digest?: Buffer): Promise<boolean> {
  if (rows.length === 0) return true;
  const columns = [rows.map((r) => r.createdAt), rows.map((r) => r.sessionId), rows.map((r) => r.eventType), rows.map((r) => JSON.stringify(r.eventData))];
  if (digest === undefined) {
    await db.query(INSERT_EVENTS, columns);
    return true;
  }
  const { rowCount } = await db.query(INSERT_EVENTS_ONCE, [...columns, digest]);
  return (rowCount ?? 0) > 0;
}

/** Deletes the digests older than the window; returns how many. */
export async function pruneDigests(db: Queryable, windowMinutes: number): Promise<number> {
  const { rowCount } = await db.query(PRUNE_DIGESTS, [windowMinutes]);
  return rowCount ?? 0;
}

// SQLSTATE classes and codes after which the same insert can succeed later: the connection,
// the server's resources or state, a cancelled (timed-out) statement, and a schema or grant
// that an operator has yet to put in place.
const RETRYABLE_CLASSES = ['08', '53', '57', '58'];
const RETRYABLE_CODES = ['40001', '40P01', '55P03', '55006', '42P01', '42501', '3F000', '25006'];

/**
 * Whether a failed insert may succeed if the client sends the same request again: Postgres
 * unreachable or a transient server condition (answered 503). Anything else is a bug here.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    return RETRYABLE_CLASSES.includes(code.slice(0, 2)) || RETRYABLE_CODES.includes(code);
  }
  // A programming error is not cured by retrying.
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return false;
  // Everything else is the driver's: connection refused or reset, timed out, pool ended.
  return true;
}

/** how long the store inserts without digests before it looks for their table again */
export const DIGESTS_RECHECK_MS = 60_000;

/** The span store cannot store now, but may later (Postgres unreachable, a transient condition): answer 503. */
export class SpanStoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the span store is unavailable: ${describeError(cause)}`, { cause });
    this.name = 'SpanStoreUnavailableError';
  }
}

export interface SpanStoreDeps {
  db: Queryable;
  logger: Logger;
  /** OTLP_DEDUPE_WINDOW_MINUTES: how long a digest is kept; old ones are pruned a few times per window */
  dedupeWindowMinutes: number;
  /** milliseconds clock, for tests (default Date.now) */
  now?: () => number;
}

export interface SpanStore {
  /**
   * Stores a request's rows; with `digest` (the SHA-256 of its body), only if no request with that
   * digest was stored within the window: 'replay' then, and nothing stored. Throws
   * SpanStoreUnavailableError when the insert may succeed later (the receiver answers 503), and
   * any other error as it came (a bug: 500).
   */
  store(rows: readonly NewEventRow[], digest: Buffer | undefined): Promise<'stored' | 'replay'>;
}

export function createSpanStore({ db, logger, dedupeWindowMinutes, now = Date.now }: SpanStoreDeps): SpanStore {
  // Old digests go after the first store and then a few times per window (so that frequent
  // restarts do not skip it), never more than one delete at a time.
  const pruneEveryMs = (dedupeWindowMinutes * 60_000) / 4;
  let prunedAt: number | undefined;
  let pruning = false;
  /** set while the digest table is missing: rows are stored without digests until then */
  let digestsMissingUntil: number | undefined;
  let databaseFailing = false;

  async function store(rows: readonly NewEventRow[], digest: Buffer | undefined): Promise<'stored' | 'replay'> {
    let stored: boolean;
    try {
      stored = await write(rows, digest);
    } catch (err) {
      if (!isRetryable(err)) throw err;
      if (!databaseFailing) logger.error({ err: describeError(err) }, 'OTLP receiver cannot store spans; answering 503 until Postgres is back');
      databaseFailing = true;
      throw new SpanStoreUnavailableError(err);
    }
    if (rows.length > 0 && databaseFailing) {
      logger.info('OTLP receiver stores spans again');
      databaseFailing = false;
    }
    if (digest !== undefined && digestsMissingUntil === undefined) pruneNowAndThen();
    return stored ? 'stored' : 'replay';
  }

  /** The insert; without the digest table, a plain insert (a replay is then stored twice). */
  async function write(rows: readonly NewEventRow[], digest: Buffer | undefined): Promise<boolean> {
    if (digest === undefined || (digestsMissingUntil !== undefined && now() < digestsMissingUntil)) return insertRows(db, rows);
    try {
      const stored = await insertRows(db, rows, digest);
      if (digestsMissingUntil !== undefined) logger.info('OTLP request digests table found: replays are recognised again');
      digestsMissingUntil = undefined;
      return stored;
    } catch (err) {
      if (!isMissingDigestTable(err)) throw err;
      if (digestsMissingUntil === undefined) {
        logger.warn({ err: describeError(err) }, 'OTLP replays cannot be recognised until the migrations are applied; spans are stored meanwhile');
      }
      digestsMissingUntil = now() + DIGESTS_RECHECK_MS;
      return insertRows(db, rows);
    }
  }

  function pruneNowAndThen(): void {
    if (pruning || (prunedAt !== undefined && now() - prunedAt < pruneEveryMs)) return;
    pruning = true;
    prunedAt = now();
    pruneDigests(db, dedupeWindowMinutes)
      .then((deleted) => logger.debug({ deleted }, 'OTLP request digests pruned'))
      .catch((err: unknown) => logger.warn({ err: describeError(err) }, 'OTLP request digests not pruned; trying again later'))
      .finally(() => {
        pruning = false;
      });
  }

  return { store };
}

function isMissingDigestTable(err: unknown): boolean {
  return err instanceof pg.DatabaseError && err.code === '42P01' && err.message.includes('otlp_request_digests');
}

// Writing a request's rows: one multi-row INSERT, so a request is stored whole or not at all,
// naming only the payload columns the exporter's role may write (id and tx are never ours).
// With a digest, the same statement records the request's SHA-256 and stores the rows only if
// the digest was new: a client's replay of a stored request stores nothing, even when the two
// copies arrive at once (the second waits on the first's digest, then finds it).
import pg from 'pg';
import type { Queryable } from '../db.js';
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

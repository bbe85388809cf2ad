// Writing a request's rows: one multi-row INSERT, so a request is stored whole or not at all,
// naming only the payload columns the exporter's role may write (id and tx are never ours).
import pg from 'pg';
import type { Queryable } from '../collectors/index.js';
import type { EventRow } from './spans.js';

export const INSERT_EVENTS = `
INSERT INTO public.runtime_metrics (created_at, session_id, event_type, event_data)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::jsonb[])`;

export async function insertRows(db: Queryable, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(INSERT_EVENTS, [
    rows.map((r) => r.createdAt),
    rows.map((r) => r.sessionId),
    rows.map((r) => r.eventType),
    rows.map((r) => JSON.stringify(r.eventData)),
  ]);
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

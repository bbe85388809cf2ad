// The exporter's Postgres pool: small, named (application_name), and bounded on the server
// (statement_timeout, lock_timeout) so a slow query is cancelled by Postgres instead of left
// running after the scrape gave up. A client-side query timeout backs it up for a dead network.
import pg from 'pg';
import type { Config } from './config.js';
import type { Logger } from './log.js';

export type Pool = pg.Pool;

/** The slice of pg.Pool that collectors, the receiver, the hooks and the CLI need. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount?: number | null }>;
}

/** A one-line error description, with a hint where the cause is a known setup mistake. */
export function describeError(err: unknown): string {
  const e = err as { message?: string; code?: string };
  const message = e?.message ?? String(err);
  if (e?.code === '42P01' || e?.code === '3F000') {
    return `${message} (is the schema migrated? run: npm run db:migrate)`;
  }
  if (e?.code === '42501') return `${message} (missing grant: re-run npm run db:migrate as the database owner)`;
  return message;
}

export function createPool(connectionString: string, db: Config['db'], logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: db.poolMax,
    application_name: db.applicationName,
    statement_timeout: db.statementTimeoutMs,
    lock_timeout: db.lockTimeoutMs,
    query_timeout: db.statementTimeoutMs + 1000,
    connectionTimeoutMillis: db.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would
  // end the process. The pool replaces the client on next use.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection lost'));
  return pool;
}

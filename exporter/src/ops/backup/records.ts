// What backup and restore read from and write to the database besides the tables: the schema
// version, and their own `backup` / `restore` events (sql/README.md has the row contract).
import type { Queryable } from '../../db.js';

/** The latest applied migration, or null when the database has none recorded. */
export async function schemaVersion(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ present: boolean }>(
    `SELECT to_regclass('observability.schema_migrations') IS NOT NULL AS present`,
  );
  if (!rows[0]?.present) return null;
  const latest = await db.query<{ name: string | null }>('SELECT max(name) AS name FROM observability.schema_migrations');
  return latest.rows[0]?.name ?? null;
}

export interface JobEvent {
  status: 'success' | 'failed';
  /** how many tables */
  tables: number;
  rows: number;
  duration_ms: number;
  /** the backup's name (its directory) */
  name: string;
  [key: string]: unknown;
}

/** Append a backup or restore event; the event collector and the backups collector read them. */
export async function recordEvent(db: Queryable, type: 'backup' | 'restore', event: JobEvent): Promise<void> {
  await db.query(`INSERT INTO public.runtime_metrics (event_type, event_data) VALUES ($1, $2::jsonb)`, [type, JSON.stringify(event)]);
}

/** One short line of an error for an event row: no stack, bounded. */
export function errorSummary(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split('\n')[0] ?? '';
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}

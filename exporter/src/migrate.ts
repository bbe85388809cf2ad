// Applying SQL: the shipped migrations through node-pg-migrate (which records what ran in
// observability.schema_migrations and holds an advisory lock while it runs), and plain SQL
// folders (the development app schema, the demo seed) in one transaction per file.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { Logger } from './log.js';
import { sqlPaths } from './paths.js';

export const MIGRATIONS_TABLE = { schema: 'observability', table: 'schema_migrations' } as const;

/** A failed SQL file, with the statement that failed and where. */
export class SqlApplyError extends Error {
  constructor(
    readonly file: string,
    override readonly cause: Error,
    readonly excerpt: string,
  ) {
    super(`${file}: ${cause.message}${excerpt ? `\n${excerpt}` : ''}`);
    this.name = 'SqlApplyError';
  }
}

export interface MigrateOptions {
  logger: Logger;
  dir?: string;
  dryRun?: boolean;
}

/** Apply pending migrations; returns the names applied (or pending, on a dry run). */
export async function migrate(client: pg.ClientBase, { logger, dir = sqlPaths.migrations, dryRun = false }: MigrateOptions): Promise<string[]> {
  let current: string | undefined;
  const log = logger.child({ component: 'migrate' });
  try {
    const ran = await runner({
      dbClient: client,
      dir,
      direction: 'up',
      migrationsTable: MIGRATIONS_TABLE.table,
      migrationsSchema: MIGRATIONS_TABLE.schema,
      createMigrationsSchema: true,
      checkOrder: true,
      dryRun,
      verbose: false,
      logger: {
        debug: (msg: string) => log.debug(msg),
        info: (msg: string) => {
          const match = /### MIGRATION (\S+) \(UP\) ###/.exec(msg);
          if (match) {
            current = match[1];
            log.info({ migration: current }, dryRun ? 'would apply migration' : 'applying migration');
          }
        },
        warn: (msg: string) => log.warn(msg),
        error: (msg: string) => log.debug({ detail: msg }, 'node-pg-migrate error'),
      },
    });
    return ran.map((m) => m.name);
  } catch (err) {
    // node-pg-migrate leaves the failed migration's transaction open on a client it was given.
    await client.query('ROLLBACK').catch(() => undefined);
    if (current === undefined || !(err instanceof Error)) throw err;
    const file = join(dir, `${current}.sql`);
    const text = await readFile(file, 'utf8').catch(() => '');
    throw new SqlApplyError(file, err, excerptAt(text, (err as { position?: string }).position));
  }
}

/** Apply every .sql file of a folder in name order, each in its own transaction. */
export async function applySqlDir(client: pg.ClientBase, dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  for (const name of files) {
    const file = join(dir, name);
    const text = await readFile(file, 'utf8');
    try {
      await client.query('BEGIN');
      await client.query(text);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new SqlApplyError(file, err as Error, excerptAt(text, (err as { position?: string }).position));
    }
  }
  return files;
}

/** The lines around a 1-based character position of a SQL text, the failing line marked. */
export function excerptAt(text: string, position: string | undefined): string {
  const offset = Number(position);
  if (!text || !Number.isInteger(offset) || offset < 1) return '';
  const lineNo = text.slice(0, offset - 1).split('\n').length;
  const lines = text.split('\n');
  const from = Math.max(1, lineNo - 2);
  const to = Math.min(lines.length, lineNo + 2);
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(`${n === lineNo ? '>' : ' '} ${String(n).padStart(4)} | ${lines[n - 1]}`);
  return out.join('\n');
}

/** Development and demo setup: the app schema, the migrations, and (if empty) the demo data. */
export async function setUpDevelopmentDatabase(client: pg.ClientBase, { logger, seed }: { logger: Logger; seed: boolean }): Promise<void> {
  await applySqlDir(client, sqlPaths.app);
  await migrate(client, { logger });
  if (!seed) return;
  const { rows } = await client.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM public.stores) AS empty');
  if (rows[0]?.empty) {
    await applySqlDir(client, sqlPaths.seed);
    logger.info('demo data loaded');
  }
}

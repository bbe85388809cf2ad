#!/usr/bin/env node
// `npm run db:migrate`: apply the pending migrations of sql/migrations to DATABASE_URL,
// recording each in observability.schema_migrations. Exits non-zero with the failing
// statement on error.
import { parseArgs } from 'node:util';
import { connectDatabaseOrExit } from './database.js';
import { createLogger } from '../log.js';
import { applySqlDir, migrate, SqlApplyError } from '../migrate.js';
import { sqlPaths } from '../paths.js';
import { isEntryPoint } from './entry.js';
import { opsSettingsOrExit } from './settings.js';

const USAGE = `usage: npm run db:migrate -- [--dry-run] [--dev]      (or: cc-ops migrate [--dry-run] [--dev])

Applies the pending migrations in sql/migrations to the database named by DATABASE_URL
(or DATABASE_URL_FILE), as a role that owns the schema (on Supabase: postgres).

  --dry-run   list the pending migrations, apply nothing
  --dev       also apply sql/app (the app tables, for a development database) first,
              and the demo data of sql/seed after, if the stores table is empty
  --help      this text
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { 'dry-run': { type: 'boolean' }, dev: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`db:migrate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }

  const settings = opsSettingsOrExit('db:migrate', { database: true, logLevel: true });
  if (typeof settings === 'number') return settings;
  const logger = createLogger(settings.logLevel ?? 'info');
  const client = await connectDatabaseOrExit('db:migrate', settings.databaseUrl, 'the database to migrate', 'cc-migrate');
  if (typeof client === 'number') return client;
  try {
    if (args.dev && !args['dry-run']) await applySqlDir(client, sqlPaths.app);
    const names = await migrate(client, { logger, dryRun: args['dry-run'] ?? false });
    if (args['dry-run']) {
      console.log(names.length ? `pending: ${names.join(', ')}` : 'nothing to apply: the database is up to date');
    } else {
      console.log(names.length ? `applied: ${names.join(', ')}` : 'nothing to apply: the database is up to date');
    }
    if (args.dev && !args['dry-run']) {
      const { rows } = await client.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM public.stores) AS empty');
      if (rows[0]?.empty) {
        await applySqlDir(client, sqlPaths.seed);
        console.log('demo data loaded');
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof SqlApplyError) {
      console.error(`db:migrate: failed in ${err.file}\n${err.cause.message}${err.excerpt ? `\n${err.excerpt}` : ''}`);
      const hint = (err.cause as { hint?: string }).hint;
      if (hint) console.error(`hint: ${hint}`);
    } else {
      console.error(`db:migrate: ${(err as Error).message}`);
    }
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();

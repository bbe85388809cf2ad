#!/usr/bin/env node
// `cc-ops backup` (`npm run db:backup`): the app's core tables of DATABASE_URL into
// <dir>/<name>/, one gzip COPY file per table and a manifest (see ../backup/backup.ts).
import { parseArgs } from 'node:util';
import { BackupExistsError, createBackup, defaultBackupName } from './backup/backup.js';
import { BACKUP_NAME } from './backup/manifest.js';
import { createProgress, formatBytes, formatCount } from './backup/progress.js';
import { BACKUP_TABLES } from './backup/tables.js';
import { connectDatabaseOrExit } from './database.js';
import { isEntryPoint } from './entry.js';
import { opsSettingsOrExit } from './settings.js';

const USAGE = `usage: cc-ops backup [--dir <path>] [--name <name>] [--force]      (or: npm run db:backup -- …)

Backs up the app's core tables of the database named by DATABASE_URL (or DATABASE_URL_FILE)
into <dir>/<name>/: one gzip-compressed COPY file per table and manifest.json (row counts,
sha256 checksums, the schema version, the duration), all from one consistent snapshot.
Run it as a role that can read every table (on Supabase: postgres). Tables, in order:
  ${BACKUP_TABLES.join(', ')}

  --dir <path>    where backups are kept (default: BACKUP_DIR, else ./backups)
  --name <name>   the backup's directory (default: today's UTC date, YYYY-MM-DD)
  --force         replace a complete backup of the same name (default: refuse)
  --help          this text

A backup is written to a hidden temporary directory and renamed into place when complete, so
<dir>/<name>/ either holds a whole backup or does not exist. Each run records a \`backup\` event
(success or failure), which the exporter shows as cc_backup_last_success_timestamp_seconds.
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        name: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`backup: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const name = args.name ?? defaultBackupName();
  if (!BACKUP_NAME.test(name)) {
    console.error(`backup: --name "${name}" must be letters, digits, dots, dashes and underscores (a directory name, not a path)`);
    return 2;
  }
  const settings = opsSettingsOrExit('backup', { database: true });
  if (typeof settings === 'number') return settings;
  const root = args.dir ?? settings.backupDir;

  const client = await connectDatabaseOrExit('backup', settings.databaseUrl, 'the database to back up', 'cc-backup');
  if (typeof client === 'number') return client;
  try {
    const result = await createBackup(client, { root, name, force: args.force ?? false, progress: createProgress(process.stderr) });
    const m = result.manifest;
    console.log(
      `backup ${name}: ${m.tables.length} tables, ${formatCount(m.total_rows)} rows, ${formatBytes(m.total_bytes)} in ` +
        `${(m.duration_ms / 1000).toFixed(1)} s (schema ${m.schema_version ?? 'unknown'})${result.replaced ? ', replacing the previous one' : ''} -> ${result.dir}`,
    );
    if (result.recordError) {
      console.error(`backup: the backup is complete, but its event could not be recorded (${result.recordError}); cc_backup_last_success_timestamp_seconds will not show it`);
      return 3;
    }
    return 0;
  } catch (err) {
    if (err instanceof BackupExistsError) {
      console.error(`backup: ${err.message}`);
      return 1;
    }
    console.error(`backup: failed, nothing kept: ${(err as Error).message}`);
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();

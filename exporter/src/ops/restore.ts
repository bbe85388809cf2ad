#!/usr/bin/env node
// `cc-ops restore <name>` (`npm run db:restore`): a local backup's tables back into
// DATABASE_URL in one transaction, after every check (see ../backup/restore.ts).
import { parseArgs } from 'node:util';
import { BackupInvalidError } from './backup/manifest.js';
import { createProgress, formatCount } from './backup/progress.js';
import { restoreBackup, RestoreRefusedError, RestoreUsageError, type RestoreResult } from './backup/restore.js';
import { connectDatabaseOrExit } from './database.js';
import { isEntryPoint } from './entry.js';
import { opsSettingsOrExit } from './settings.js';

const USAGE = `usage: cc-ops restore <name> [--dry-run] [--tables=a,b] [--dir <path>]      (or: npm run db:restore -- …)

Restores the backup <dir>/<name>/ (a name such as 2025-12-01) into the database named by
DATABASE_URL (or DATABASE_URL_FILE): each restored table's rows are replaced by the backup's,
all in one transaction. Run it as the tables' owner (on Supabase: postgres).

Before anything is written: the manifest is read, a backup of a newer schema version than the
database's is refused, every restored column must exist, a table left out of --tables must
not reference one being restored, and every file's sha256 must match the manifest.

  --dry-run        check everything and show, per table, the rows now and in the backup; write nothing
  --tables=a,b     restore only these tables (in any order: they are restored parents first);
                   a table that references one of them must be in the list too
  --dir <path>     where backups are kept (default: BACKUP_DIR, else ./backups)
  --lock-timeout <seconds>  how long to wait for the tables' locks (default 30)
  --help           this text

User triggers of the restored tables are off while they load (no order events are invented);
foreign keys are checked. Each restore records a \`restore\` event (success or failure).
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        'dry-run': { type: 'boolean' },
        tables: { type: 'string' },
        dir: { type: 'string' },
        'lock-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    console.error(`restore: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const args = parsed.values;
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    console.error(`restore: name exactly one backup, e.g. cc-ops restore 2025-12-01\n\n${USAGE}`);
    return 2;
  }
  const name = parsed.positionals[0]!;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    console.error(`restore: "${name}" is not a backup name (a directory under --dir, not a path)`);
    return 2;
  }
  const tables = args.tables?.split(',').map((t) => t.trim()).filter(Boolean);
  if (args.tables !== undefined && !tables?.length) {
    console.error('restore: --tables needs at least one table name');
    return 2;
  }
  const lockTimeout = Number(args['lock-timeout'] ?? '30');
  if (!Number.isFinite(lockTimeout) || lockTimeout <= 0) {
    console.error(`restore: --lock-timeout must be a number of seconds, got "${args['lock-timeout']}"`);
    return 2;
  }
  const settings = opsSettingsOrExit('restore', { database: true });
  if (typeof settings === 'number') return settings;
  const root = args.dir ?? settings.backupDir;

  const client = await connectDatabaseOrExit('restore', settings.databaseUrl, 'the database to restore into', 'cc-restore');
  if (typeof client === 'number') return client;
  try {
    const result = await restoreBackup(client, {
      root,
      name,
      tables,
      dryRun: args['dry-run'] ?? false,
      lockTimeoutMs: lockTimeout * 1000,
      progress: createProgress(process.stderr),
    });
    console.log(describe(result));
    if (result.recordError) {
      console.error(`restore: the restore is committed, but its event could not be recorded (${result.recordError})`);
      return 3;
    }
    return 0;
  } catch (err) {
    if (err instanceof RestoreUsageError) {
      console.error(`restore: ${err.message}`);
      return 2;
    }
    if (err instanceof RestoreRefusedError || err instanceof BackupInvalidError) {
      console.error(`restore: refused: ${err.message}`);
      return 1;
    }
    console.error(`restore: failed: ${(err as Error).message}`);
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function describe(result: RestoreResult): string {
  const width = Math.max(5, ...result.tables.map((t) => t.name.length));
  const lines = result.tables.map((t) => {
    const change = t.rowsInBackup - t.rowsBefore;
    return `  ${t.name.padEnd(width)}  ${formatCount(t.rowsBefore).padStart(12)}  ${formatCount(t.rowsInBackup).padStart(12)}  ${(change > 0 ? `+${formatCount(change)}` : formatCount(change)).padStart(12)}`;
  });
  const header = `  ${'table'.padEnd(width)}  ${(result.dryRun ? 'rows now' : 'rows before').padStart(12)}  ${'in backup'.padStart(12)}  ${'change'.padStart(12)}`;
  const kept = result.keptParents.length > 0 ? `\nkept as they are (parents of restored tables): ${result.keptParents.join(', ')}` : '';
  const m = result.manifest;
  const title = result.dryRun
    ? `restore ${m.name} --dry-run: checks passed (checksums, schema ${m.schema_version ?? 'unknown'}, tables, references); nothing was written`
    : `restored ${m.name}: ${result.tables.length} tables, ${formatCount(result.tables.reduce((n, t) => n + t.rowsInBackup, 0))} rows in ${(result.durationMs / 1000).toFixed(1)} s`;
  return `${title}\n${header}\n${lines.join('\n')}${kept}`;
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();

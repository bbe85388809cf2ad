// Backup: every table of the list streamed with COPY ... TO STDOUT through gzip into one file
// per table, all from one snapshot (a REPEATABLE READ, READ ONLY transaction, as pg_dump does),
// so memory stays flat whatever the table size and the tables agree with each other. Files go
// to a temporary directory beside the target, the manifest last, and the directory is renamed
// into place: a crash never leaves a half backup that looks complete.
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { MANIFEST_FILE, MANIFEST_FORMAT, type Manifest, type ManifestTable } from './manifest.js';
import { createProgress, formatBytes, formatCount, type Progress } from './progress.js';
import { errorSummary, recordEvent, schemaVersion } from './records.js';
import { BACKUP_TABLES, columnsOf, missingTables, SCHEMA } from './tables.js';

export interface BackupOptions {
  /** the directory that holds the backups, one subdirectory each */
  root: string;
  /** the backup's directory name (the UTC date by default) */
  name: string;
  /** replace a complete backup of the same name */
  force?: boolean;
  /** the tables, in order (tests narrow or break it); default: the twelve */
  tables?: readonly string[];
  progress?: Progress;
}

export interface BackupResult {
  dir: string;
  manifest: Manifest;
  /** a backup of the same name was replaced (--force) */
  replaced: boolean;
  /** the backup is complete but its event could not be written (the metric will not see it) */
  recordError: string | undefined;
}

/** The target already holds a backup and --force was not given. */
export class BackupExistsError extends Error {
  constructor(readonly dir: string) {
    super(`${dir} already exists; pass --force to replace it, or --name to keep both`);
    this.name = 'BackupExistsError';
  }
}

/** The default backup name: today's UTC date, YYYY-MM-DD. */
export function defaultBackupName(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export async function createBackup(client: pg.ClientBase, options: BackupOptions): Promise<BackupResult> {
  const { root, name, force = false, tables = BACKUP_TABLES } = options;
  const progress = options.progress ?? createProgress({ write: () => true });
  const started = Date.now();
  const finalDir = join(root, name);
  if ((await exists(finalDir)) && !force) throw new BackupExistsError(finalDir);

  await mkdir(root, { recursive: true });
  const tmpDir = await mkdtemp(join(root, `.tmp-${name}-`));
  const entries: ManifestTable[] = [];
  let inTransaction = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    inTransaction = true;
    // A backup takes as long as the tables need; the role's defaults may be tuned for the app.
    await client.query(`SET LOCAL statement_timeout = 0`);
    await client.query(`SET LOCAL idle_in_transaction_session_timeout = 0`);
    await client.query(`SET LOCAL lock_timeout = '30s'`);

    const missing = await missingTables(client, tables);
    if (missing.length > 0) throw new Error(`the database has no table ${missing.map((t) => `${SCHEMA}.${t}`).join(', ')}`);
    const version = await schemaVersion(client);
    const { rows: serverRows } = await client.query<{ server_version: string }>('SHOW server_version');
    const columns = await columnsOf(client, tables);

    for (const [index, table] of tables.entries()) {
      const cols = columns.get(table) ?? [];
      const file = `${table}.copy.gz`;
      const label = `backup: ${table} (${index + 1}/${tables.length})`;
      const entry = await copyTableToFile(client, table, cols.map((c) => c.name), join(tmpDir, file), (rows, bytes) =>
        progress.update(`${label} ${formatCount(rows)} rows, ${formatBytes(bytes)} read`),
      );
      entries.push({ name: table, file, ...entry, columns: cols });
      progress.done(`${label} ${formatCount(entry.rows)} rows, ${formatBytes(entry.bytes)}`);
    }
    await client.query('COMMIT');
    inTransaction = false;

    const finished = Date.now();
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      name,
      started_at: new Date(started).toISOString(),
      finished_at: new Date(finished).toISOString(),
      duration_ms: finished - started,
      schema_version: version,
      server_version: serverRows[0]?.server_version ?? 'unknown',
      compression: 'gzip',
      tables: entries,
      total_rows: entries.reduce((n, t) => n + t.rows, 0),
      total_bytes: entries.reduce((n, t) => n + t.bytes, 0),
    };
    await writeFile(join(tmpDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await fsync(join(tmpDir, MANIFEST_FILE));
    await fsync(tmpDir);
    const replaced = await moveIntoPlace(tmpDir, finalDir, force);
    await fsync(root);

    let recordError: string | undefined;
    try {
      await recordEvent(client, 'backup', {
        status: 'success',
        tables: entries.length,
        rows: manifest.total_rows,
        duration_ms: manifest.duration_ms,
        name,
        bytes: manifest.total_bytes,
        schema_version: version,
      });
    } catch (err) {
      recordError = errorSummary(err);
    }
    return { dir: finalDir, manifest, replaced, recordError };
  } catch (err) {
    progress.clear();
    if (inTransaction) await client.query('ROLLBACK').catch(() => undefined);
    await rm(tmpDir, { recursive: true, force: true });
    // Best effort: a failed backup is worth a row, but not worth hiding the real error.
    await recordEvent(client, 'backup', {
      status: 'failed',
      tables: entries.length,
      rows: entries.reduce((n, t) => n + t.rows, 0),
      duration_ms: Date.now() - started,
      name,
      error: errorSummary(err),
    }).catch(() => undefined);
    throw err;
  }
}

/** COPY one table to a gzip file: rows counted, the written bytes hashed, the file synced. */
async function copyTableToFile(
  client: pg.ClientBase,
  table: string,
  columns: string[],
  path: string,
  onProgress: (rows: number, bytes: number) => void,
): Promise<{ rows: number; bytes: number; sha256: string }> {
  const list = columns.map((c) => client.escapeIdentifier(c)).join(', ');
  const source = client.query(copyTo(`COPY ${SCHEMA}.${client.escapeIdentifier(table)} (${list}) TO STDOUT`));
  let rowsSeen = 0;
  let bytesRead = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytesRead += chunk.length;
      // COPY text format: one row per line (newlines inside values are escaped as \n).
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rowsSeen++;
      onProgress(rowsSeen, bytesRead);
      callback(null, chunk);
    },
  });
  const hash = createHash('sha256');
  let bytes = 0;
  const digest = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  await pipeline(source, count, createGzip(), digest, createWriteStream(path, { flags: 'wx' }));
  await fsync(path);
  return { rows: source.rowCount, bytes, sha256: hash.digest('hex') };
}

/** Rename the finished directory into place; with force, swap out an existing one first. */
async function moveIntoPlace(tmpDir: string, finalDir: string, force: boolean): Promise<boolean> {
  if (!(await exists(finalDir))) {
    await rename(tmpDir, finalDir);
    return false;
  }
  if (!force) throw new BackupExistsError(finalDir);
  const old = `${tmpDir.replace(/\.tmp-/, '.replaced-')}-${randomBytes(3).toString('hex')}`;
  await rename(finalDir, old);
  await rename(tmpDir, finalDir);
  await rm(old, { recursive: true, force: true });
  return true;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** fsync a file or a directory, so a rename is never ahead of its contents after a crash. */
async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// Restore: the tables of a local backup replace the database's rows, all in one transaction.
// Everything that can be checked is checked before the first write: the manifest, the schema
// version (a backup of a newer schema is refused), the tables and columns, that no table
// left out of the selection references one being replaced, and every file's sha256. The
// files are hashed again while they load, so a file changed after the check rolls back.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BackupInvalidError, compareSchemaVersions, readManifest, verifyFiles, type Manifest, type ManifestTable } from './manifest.js';
import { createProgress, formatCount, type Progress } from './progress.js';
import { errorSummary, recordEvent, schemaVersion } from './records.js';
import { columnsOf, dependencyOrder, foreignKeys, missingTables, SCHEMA, type ForeignKey } from './tables.js';

export interface RestoreOptions {
  root: string;
  name: string;
  /** restore only these tables (default: every table of the backup) */
  tables?: readonly string[] | undefined;
  /** check everything and report rows now vs in the backup; write nothing */
  dryRun?: boolean;
  /** how long to wait for the tables' locks */
  lockTimeoutMs?: number;
  progress?: Progress;
}

export interface RestoredTable {
  name: string;
  rowsBefore: number;
  rowsInBackup: number;
}

export interface RestoreResult {
  dir: string;
  manifest: Manifest;
  /** in the order restored (parents first) */
  tables: RestoredTable[];
  /** parent tables of the selection left as they are */
  keptParents: string[];
  dryRun: boolean;
  durationMs: number;
  /** restored, but the restore event could not be written */
  recordError: string | undefined;
}

/** Nothing was attempted: the request itself is wrong (exit code 2). */
export class RestoreUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreUsageError';
  }
}

/** A check refused the restore, or the load failed and was rolled back; nothing was written. */
export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

export async function restoreBackup(client: pg.ClientBase, options: RestoreOptions): Promise<RestoreResult> {
  const { root, name, dryRun = false, lockTimeoutMs = 30_000 } = options;
  const progress = options.progress ?? createProgress({ write: () => true });
  const started = Date.now();
  const dir = join(root, name);
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) {
    throw new RestoreUsageError(`no backup named ${name} in ${root}`);
  }
  let manifest: Manifest | undefined;
  let plan: Plan | undefined;
  try {
    manifest = await readManifest(dir);
    plan = await planRestore(client, manifest, options.tables);
    await verifyFiles(dir, plan.entries);
  } catch (err) {
    // A refused restore is worth a row too (someone tried); a mistyped command line is not.
    if (!dryRun && !(err instanceof RestoreUsageError)) {
      await recordEvent(client, 'restore', { status: 'failed', tables: 0, rows: 0, duration_ms: Date.now() - started, name, error: errorSummary(err) }).catch(
        () => undefined,
      );
    }
    throw err;
  }

  const tables: RestoredTable[] = [];
  for (const entry of plan.entries) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(client, entry.name)}`);
    tables.push({ name: entry.name, rowsBefore: Number(rows[0]?.n ?? 0), rowsInBackup: entry.rows });
  }
  if (dryRun) {
    return { dir, manifest, tables, keptParents: plan.keptParents, dryRun, durationMs: Date.now() - started, recordError: undefined };
  }

  const event = { tables: tables.length, rows: plan.entries.reduce((n, t) => n + t.rows, 0), name };
  try {
    await load(client, dir, plan, lockTimeoutMs, progress);
  } catch (err) {
    progress.clear();
    const explained = explainLoadError(err, plan);
    await recordEvent(client, 'restore', { status: 'failed', ...event, duration_ms: Date.now() - started, error: errorSummary(explained) }).catch(() => undefined);
    throw explained;
  }
  const durationMs = Date.now() - started;
  let recordError: string | undefined;
  try {
    await recordEvent(client, 'restore', { status: 'success', ...event, duration_ms: durationMs, schema_version: manifest.schema_version });
  } catch (err) {
    recordError = errorSummary(err);
  }
  return { dir, manifest, tables, keptParents: plan.keptParents, dryRun, durationMs, recordError };
}

interface Plan {
  /** manifest entries of the selected tables, in restore order */
  entries: ManifestTable[];
  order: string[];
  keys: ForeignKey[];
  keptParents: string[];
}

/** Every check that needs no data written: selection, schema version, tables, columns, references. */
async function planRestore(client: pg.ClientBase, manifest: Manifest, requested: readonly string[] | undefined): Promise<Plan> {
  const inBackup = manifest.tables.map((t) => t.name);
  const selection = requested && requested.length > 0 ? [...new Set(requested)] : inBackup;
  const unknown = selection.filter((t) => !inBackup.includes(t));
  if (unknown.length > 0) {
    throw new RestoreUsageError(`the backup has no table ${unknown.join(', ')} (it has ${inBackup.join(', ')})`);
  }

  const current = await schemaVersion(client);
  if (manifest.schema_version !== null) {
    if (current === null) {
      throw new RestoreRefusedError(
        `the backup was taken at schema version ${manifest.schema_version}, and this database has no migrations applied: run npm run db:migrate first`,
      );
    }
    if (compareSchemaVersions(manifest.schema_version, current) > 0) {
      throw new RestoreRefusedError(
        `the backup was taken at schema version ${manifest.schema_version}, newer than this database's ${current}: ` +
          'restoring it could drop what the newer schema added; migrate this database first (npm run db:migrate with the newer release)',
      );
    }
  }

  const missing = await missingTables(client, selection);
  if (missing.length > 0) throw new RestoreRefusedError(`this database has no table ${missing.join(', ')}; create the app schema first`);

  const columns = await columnsOf(client, selection);
  const columnProblems: string[] = [];
  for (const table of selection) {
    const have = new Set((columns.get(table) ?? []).map((c) => c.name));
    const entry = manifest.tables.find((t) => t.name === table)!;
    const absent = entry.columns.filter((c) => !have.has(c.name)).map((c) => c.name);
    if (absent.length > 0) columnProblems.push(`${table} has no column ${absent.join(', ')}`);
  }
  if (columnProblems.length > 0) {
    throw new RestoreRefusedError(`the backup's columns do not fit this database:\n${columnProblems.map((p) => `  - ${p}`).join('\n')}`);
  }

  // Replacing a table's rows leaves every table that references it dangling: those must be
  // restored with it (their rows come from the same snapshot).
  const keys = await foreignKeys(client, selection);
  const dependents = new Map<string, string[]>();
  for (const k of keys) {
    if (selection.includes(k.references) && !selection.includes(k.table)) {
      dependents.set(k.references, [...(dependents.get(k.references) ?? []), `${k.table} (${k.constraint})`]);
    }
  }
  if (dependents.size > 0) {
    const needed = [...new Set(keys.filter((k) => selection.includes(k.references) && !selection.includes(k.table)).map((k) => k.table))];
    const lines = [...dependents].map(([table, refs]) => `  - ${table} is referenced by ${refs.join(', ')}`);
    const suggestion = needed.every((t) => inBackup.includes(t))
      ? `add ${needed.join(', ')} to --tables (--tables=${dependencyOrder([...selection, ...needed], keys).join(',')})`
      : `${needed.filter((t) => !inBackup.includes(t)).join(', ')} is not in the backup, so these tables cannot be restored on their own`;
    throw new RestoreUsageError(`restoring a table replaces all of its rows, and tables left out still reference them:\n${lines.join('\n')}\n${suggestion}`);
  }

  const order = dependencyOrder(selection, keys.filter((k) => selection.includes(k.table) && selection.includes(k.references)), inBackup);
  const keptParents = [...new Set(keys.filter((k) => selection.includes(k.table) && !selection.includes(k.references)).map((k) => k.references))];
  const entries = order.map((t) => manifest.tables.find((e) => e.name === t)!);
  return { entries, order, keys, keptParents };
}

/** The transaction: lock, empty, load (user triggers off, so no events are invented), fix sequences. */
async function load(client: pg.ClientBase, dir: string, plan: Plan, lockTimeoutMs: number, progress: Progress): Promise<void> {
  const list = plan.order.map((t) => qualified(client, t)).join(', ');
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL statement_timeout = 0`);
    await client.query(`SET LOCAL idle_in_transaction_session_timeout = 0`);
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    await client.query(`LOCK TABLE ${list} IN ACCESS EXCLUSIVE MODE`);
    await client.query(`TRUNCATE ${list}`);

    for (const [index, entry] of plan.entries.entries()) {
      const table = qualified(client, entry.name);
      // Only the user triggers that are on, put back exactly as they were (O, A or R).
      const { rows: triggers } = await client.query<{ name: string; enabled: string }>(
        `SELECT tgname AS name, tgenabled AS enabled FROM pg_catalog.pg_trigger
          WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled <> 'D'`,
        [`${SCHEMA}.${entry.name}`],
      );
      for (const t of triggers) await client.query(`ALTER TABLE ${table} DISABLE TRIGGER ${client.escapeIdentifier(t.name)}`);

      const label = `restore: ${entry.name} (${index + 1}/${plan.entries.length})`;
      const columns = entry.columns.map((c) => client.escapeIdentifier(c.name)).join(', ');
      const sink = client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`));
      const hash = createHash('sha256');
      let bytes = 0;
      const digest = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          bytes += chunk.length;
          progress.update(`${label} ${Math.floor((100 * bytes) / Math.max(entry.bytes, 1))}% of ${formatCount(entry.rows)} rows`);
          callback(null, chunk);
        },
      });
      await pipeline(createReadStream(join(dir, entry.file)), digest, createGunzip(), sink);
      if (hash.digest('hex') !== entry.sha256 || bytes !== entry.bytes) {
        throw new BackupInvalidError(`${entry.file} changed while it was being restored; rolled back, nothing was written`);
      }
      if (sink.rowCount !== entry.rows) {
        throw new BackupInvalidError(`${entry.file} held ${sink.rowCount} rows, the manifest says ${entry.rows}; rolled back, nothing was written`);
      }

      for (const t of triggers) {
        const mode = t.enabled === 'A' ? 'ALWAYS ' : t.enabled === 'R' ? 'REPLICA ' : '';
        await client.query(`ALTER TABLE ${table} ENABLE ${mode}TRIGGER ${client.escapeIdentifier(t.name)}`);
      }
      progress.done(`${label} ${formatCount(entry.rows)} rows`);
    }

    // Sequences behind serial and identity columns: never moved backwards (setval is not
    // undone by a rollback, and ids already handed out must stay unique).
    for (const entry of plan.entries) {
      const { rows: sequences } = await client.query<{ column: string; sequence: string }>(
        `SELECT a.attname AS column, pg_get_serial_sequence($1, a.attname) AS sequence
           FROM pg_catalog.pg_attribute a
          WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
            AND pg_get_serial_sequence($1, a.attname) IS NOT NULL`,
        [`${SCHEMA}.${entry.name}`],
      );
      for (const s of sequences) {
        await client.query(
          `SELECT setval($1::regclass, v, true)
             FROM (SELECT greatest((SELECT max(${client.escapeIdentifier(s.column)}) FROM ${qualified(client, entry.name)}),
                                   pg_sequence_last_value($1::regclass)) AS v) m
            WHERE v IS NOT NULL`,
          [s.sequence],
        );
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A foreign key violation names the parent table whose rows are missing. */
function explainLoadError(err: unknown, plan: Plan): Error {
  const e = err as { code?: string; constraint?: string; message?: string };
  if (e?.code === '23503') {
    const key = plan.keys.find((k) => k.constraint === e.constraint);
    if (key && !plan.order.includes(key.references)) {
      const withParent = dependencyOrder([...plan.order, key.references], plan.keys);
      return new RestoreRefusedError(
        `${key.table} has rows whose parent row in ${key.references} does not exist in this database (${key.constraint}); ` +
          `restore ${key.references} with it (--tables=${withParent.join(',')}). Rolled back, nothing was written.`,
      );
    }
    return new RestoreRefusedError(`${e.message ?? 'foreign key violation'}; rolled back, nothing was written`);
  }
  if (err instanceof BackupInvalidError || err instanceof RestoreRefusedError) return err;
  return new RestoreRefusedError(`${e?.message ?? String(err)}; rolled back, nothing was written`);
}

function qualified(client: pg.ClientBase, table: string): string {
  return `${SCHEMA}.${client.escapeIdentifier(table)}`;
}

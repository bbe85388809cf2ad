// manifest.json: what a backup holds (tables, row counts, sizes, sha256 checksums, columns),
// the schema version it was taken at, and how long it took. A backup directory is complete
// exactly when its manifest is there: the backup writes it last and renames the directory in.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BACKUP_TABLES, type Column } from './tables.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'cc-backup/1';

export interface ManifestTable {
  /** table name in the public schema */
  name: string;
  /** the data file: COPY text format, gzip-compressed */
  file: string;
  rows: number;
  /** size of the file as written */
  bytes: number;
  /** sha256 of the file as written, hex */
  sha256: string;
  /** the columns, in the order of the file */
  columns: Column[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  name: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  /** latest applied migration (observability.schema_migrations), null when there is none */
  schema_version: string | null;
  server_version: string;
  compression: 'gzip';
  tables: ManifestTable[];
  total_rows: number;
  total_bytes: number;
}

/** A backup that cannot be used as it is: unreadable, incomplete or corrupt. */
export class BackupInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupInvalidError';
  }
}

/** Backup names are directory names: a date by default, never a path. */
export const BACKUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const DATA_FILE = /^[a-z_][a-z0-9_]*\.copy\.gz$/;
const SHA256 = /^[0-9a-f]{64}$/;

export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (err) {
    throw new BackupInvalidError(`${dir} has no readable ${MANIFEST_FILE} (${(err as NodeJS.ErrnoException).code ?? err}): not a complete backup`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BackupInvalidError(`${join(dir, MANIFEST_FILE)} is not JSON: ${(err as Error).message}`);
  }
  return validateManifest(parsed, join(dir, MANIFEST_FILE));
}

/** Checks every field a restore relies on; file names and table names can never leave the directory. */
export function validateManifest(value: unknown, where: string): Manifest {
  const problems: string[] = [];
  const m = value as Partial<Manifest> | null;
  if (m === null || typeof m !== 'object') throw new BackupInvalidError(`${where}: not an object`);
  if (m.format !== MANIFEST_FORMAT) problems.push(`format is ${JSON.stringify(m.format)}, expected ${MANIFEST_FORMAT}`);
  if (m.compression !== 'gzip') problems.push(`compression ${JSON.stringify(m.compression)} is not supported`);
  if (m.schema_version !== null && typeof m.schema_version !== 'string') problems.push('schema_version must be a string or null');
  if (!Array.isArray(m.tables) || m.tables.length === 0) problems.push('tables must be a non-empty list');
  const seen = new Set<string>();
  for (const t of Array.isArray(m.tables) ? m.tables : []) {
    const name = typeof t?.name === 'string' ? t.name : '?';
    if (!(BACKUP_TABLES as readonly string[]).includes(name)) problems.push(`table ${JSON.stringify(t?.name)} is not one the backup covers`);
    if (seen.has(name)) problems.push(`table ${name} is listed twice`);
    seen.add(name);
    if (typeof t.file !== 'string' || !DATA_FILE.test(t.file)) problems.push(`${name}: file ${JSON.stringify(t.file)} is not a data file name`);
    if (!Number.isSafeInteger(t.rows) || t.rows < 0) problems.push(`${name}: rows must be a whole number`);
    if (!Number.isSafeInteger(t.bytes) || t.bytes < 0) problems.push(`${name}: bytes must be a whole number`);
    if (typeof t.sha256 !== 'string' || !SHA256.test(t.sha256)) problems.push(`${name}: sha256 must be 64 hex digits`);
    if (!Array.isArray(t.columns) || t.columns.length === 0 || !t.columns.every((c) => typeof c?.name === 'string' && typeof c?.type === 'string')) {
      problems.push(`${name}: columns must be a list of {name, type}`);
    }
  }
  if (problems.length > 0) throw new BackupInvalidError(`${where} is not a valid manifest:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return m as Manifest;
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(createReadStream(path), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  });
  return { sha256: hash.digest('hex'), bytes };
}

/** Verify every listed file against the manifest; throws naming each file that does not match. */
export async function verifyFiles(dir: string, tables: readonly ManifestTable[]): Promise<void> {
  const bad: string[] = [];
  for (const table of tables) {
    let actual: { sha256: string; bytes: number };
    try {
      actual = await hashFile(join(dir, table.file));
    } catch (err) {
      bad.push(`${table.file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`);
      continue;
    }
    if (actual.bytes !== table.bytes) bad.push(`${table.file}: ${actual.bytes} bytes, the manifest says ${table.bytes}`);
    else if (actual.sha256 !== table.sha256) bad.push(`${table.file}: sha256 ${actual.sha256}, the manifest says ${table.sha256}`);
  }
  if (bad.length > 0) throw new BackupInvalidError(`the backup in ${dir} is corrupt; nothing was written:\n${bad.map((b) => `  - ${b}`).join('\n')}`);
}

/**
 * Compare migration names by their number prefix (007_x < 010_y), else as text. Positive when
 * a is newer than b.
 */
export function compareSchemaVersions(a: string, b: string): number {
  const na = /^(\d+)/.exec(a)?.[1];
  const nb = /^(\d+)/.exec(b)?.[1];
  if (na !== undefined && nb !== undefined && Number(na) !== Number(nb)) return Number(na) - Number(nb);
  return a < b ? -1 : a > b ? 1 : 0;
}

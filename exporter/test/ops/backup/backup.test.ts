// Backup and restore on a real Postgres server: the round trip gives identical data table by
// table; a corrupt file, a newer schema, a bad table selection are refused before anything is
// written; a dry run changes nothing; a failed backup leaves nothing that looks complete.
// (PGlite's socket cannot take COPY FROM STDIN, so restore needs a server.)
import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillAppTables, tableDigests } from '../../../bench/app-data.js';
import { backends, connect, createTestDatabase, type TestDatabase } from '../../support/databases.js';
import { BackupExistsError, createBackup } from '../../../src/ops/backup/backup.js';
import { BackupInvalidError, compareSchemaVersions, hashFile, readManifest } from '../../../src/ops/backup/manifest.js';
import { restoreBackup, RestoreRefusedError, RestoreUsageError } from '../../../src/ops/backup/restore.js';
import { BACKUP_TABLES, dependencyOrder } from '../../../src/ops/backup/tables.js';

const server = backends.find((b) => b.kind === 'postgres')!;
const ORDERS = 3000;

describe('dependencyOrder', () => {
  it('puts parents first whatever order the tables come in, ties in the preferred order', () => {
    const keys = [
      { table: 'order_items', references: 'orders', constraint: 'a' },
      { table: 'orders', references: 'stores', constraint: 'b' },
      { table: 'order_items', references: 'menu_items', constraint: 'c' },
    ];
    expect(dependencyOrder(['order_items', 'orders', 'stores', 'menu_items'], keys)).toEqual(['stores', 'menu_items', 'orders', 'order_items']);
    expect(() => dependencyOrder(['a', 'b'], [{ table: 'a', references: 'b', constraint: 'x' }, { table: 'b', references: 'a', constraint: 'y' }], [])).toThrow(/cycle/);
  });

  it('compares schema versions by their number', () => {
    expect(compareSchemaVersions('010_x', '009_y')).toBeGreaterThan(0);
    expect(compareSchemaVersions('007_a', '007_a')).toBe(0);
    expect(compareSchemaVersions('006_rpcs', '007_maintenance_schedule')).toBeLessThan(0);
  });
});

describe.skipIf(server.skip !== undefined)(`backup and restore [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let client: pg.Client;
  let root: string;
  let original: Record<string, string>;
  const name = 'round-trip';

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    client = await connect(db);
    await fillAppTables(client, { orders: ORDERS, itemsPerOrder: 2 });
    original = await tableDigests(client, BACKUP_TABLES);
    root = await mkdtemp(join(tmpdir(), 'cc-backup-test-'));
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  const events = async (type: string) =>
    (await client.query<{ data: Record<string, unknown> }>(`SELECT event_data AS data FROM public.runtime_metrics WHERE event_type = $1 ORDER BY id`, [type])).rows.map(
      (r) => r.data,
    );

  it('backs up the twelve tables with a manifest that matches the files and the database', async () => {
    const result = await createBackup(client, { root, name });
    const m = result.manifest;
    expect(m.tables.map((t) => t.name)).toEqual([...BACKUP_TABLES]);
    for (const t of m.tables) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM public.${t.name}`);
      expect(t.rows, t.name).toBe(Number(rows[0]!.n));
      expect(await hashFile(join(result.dir, t.file)), t.file).toEqual({ sha256: t.sha256, bytes: t.bytes });
    }
    expect(m.tables.find((t) => t.name === 'orders')!.rows).toBe(ORDERS);
    expect(m.tables.find((t) => t.name === 'order_items')!.rows).toBe(ORDERS * 2);
    const { rows } = await client.query<{ name: string }>('SELECT max(name) AS name FROM observability.schema_migrations');
    expect(m.schema_version).toBe(rows[0]!.name);
    expect(compareSchemaVersions(m.schema_version!, '007_maintenance_schedule')).toBeGreaterThanOrEqual(0);
    expect(m.duration_ms).toBeGreaterThan(0);
    expect(m.total_rows).toBe(m.tables.reduce((n, t) => n + t.rows, 0));
    // Only the finished directory: no temporary one left behind.
    expect(await readdir(root)).toEqual([name]);
    expect(await readManifest(result.dir)).toEqual(m);
    const backups = await events('backup');
    expect(backups.at(-1)).toMatchObject({ status: 'success', tables: 12, rows: m.total_rows, name });
  });

  it('backup, wipe, restore gives identical data in every table, without order events, with sequences ahead', async () => {
    const orderEvents = async () => Number((await client.query(`SELECT count(*) AS n FROM public.runtime_metrics WHERE event_type = 'order_event'`)).rows[0].n);
    const eventsBefore = await orderEvents();
    await client.query(`TRUNCATE ${BACKUP_TABLES.map((t) => `public.${t}`).join(', ')} RESTART IDENTITY CASCADE`);
    const wiped = await tableDigests(client, BACKUP_TABLES);
    for (const t of BACKUP_TABLES) expect(wiped[t], t).toBe('0:-');

    const result = await restoreBackup(client, { root, name });
    expect(result.tables.map((t) => t.name)).toEqual([...BACKUP_TABLES]);
    expect(await tableDigests(client, BACKUP_TABLES)).toEqual(original);
    expect(await orderEvents()).toBe(eventsBefore);
    // The order triggers are back on.
    const { rows: triggers } = await client.query(`SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'public.orders'::regclass AND NOT tgisinternal ORDER BY 1`);
    expect(triggers).toEqual([
      { tgname: 'orders_created_event', tgenabled: 'O' },
      { tgname: 'orders_status_event', tgenabled: 'O' },
      { tgname: 'orders_touch_updated_at', tgenabled: 'O' },
    ]);
    // RESTART IDENTITY reset the sequences to 1; the restore moved them past the restored ids.
    await client.query(`INSERT INTO public.deployment_log (deployment_id) VALUES ('after-restore')`);
    await client.query(`INSERT INTO public.alert_history (fingerprint, alertname, status, starts_at) VALUES ('f', 'A', 'firing', now())`);
    expect((await events('restore')).at(-1)).toMatchObject({ status: 'success', tables: 12, rows: result.manifest.total_rows, name });
    await client.query(`DELETE FROM public.deployment_log WHERE deployment_id = 'after-restore'`);
    await client.query(`DELETE FROM public.alert_history WHERE fingerprint = 'f'`);
    expect(await tableDigests(client, BACKUP_TABLES)).toEqual(original);
  });

  it('refuses a corrupted file before writing anything', async () => {
    const corruptRoot = await mkdtemp(join(tmpdir(), 'cc-backup-corrupt-'));
    await cp(join(root, name), join(corruptRoot, name), { recursive: true });
    const file = join(corruptRoot, name, 'order_items.copy.gz');
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(file, bytes);
    // Make the database differ from the backup, so a write would show.
    await client.query(`DELETE FROM public.order_items WHERE quantity = 2`);
    await client.query(`UPDATE public.stores SET name = 'changed'`);
    const before = await tableDigests(client, BACKUP_TABLES);

    const attempt = restoreBackup(client, { root: corruptRoot, name });
    await expect(attempt).rejects.toBeInstanceOf(BackupInvalidError);
    await expect(attempt).rejects.toThrow(/order_items\.copy\.gz: sha256 [0-9a-f]{64}, the manifest says/);
    expect(await tableDigests(client, BACKUP_TABLES)).toEqual(before);
    expect((await events('restore')).at(-1)).toMatchObject({ status: 'failed', name });
  });

  it('--dry-run reports rows now and in the backup, and changes nothing', async () => {
    const before = await tableDigests(client, BACKUP_TABLES);
    const eventCount = Number((await client.query('SELECT count(*) AS n FROM public.runtime_metrics')).rows[0].n);
    const result = await restoreBackup(client, { root, name, dryRun: true });
    expect(result.dryRun).toBe(true);
    const items = result.tables.find((t) => t.name === 'order_items')!;
    expect(items).toEqual({ name: 'order_items', rowsBefore: ORDERS, rowsInBackup: ORDERS * 2 });
    expect(result.tables.find((t) => t.name === 'stores')).toEqual({ name: 'stores', rowsBefore: 4, rowsInBackup: 4 });
    expect(await tableDigests(client, BACKUP_TABLES)).toEqual(before);
    expect(Number((await client.query('SELECT count(*) AS n FROM public.runtime_metrics')).rows[0].n)).toBe(eventCount);
  });

  it('--tables: refuses leaving out a table that references a restored one, restores parents first, names a missing parent', async () => {
    const attempt = restoreBackup(client, { root, name, tables: ['orders'] });
    await expect(attempt).rejects.toBeInstanceOf(RestoreUsageError);
    await expect(attempt).rejects.toThrow(/orders is referenced by order_items \(order_items_order_id_fkey\)[\s\S]*--tables=orders,order_items/);
    await expect(restoreBackup(client, { root, name, tables: ['nope'] })).rejects.toThrow(/the backup has no table nope/);

    // Given children first, restored parents first; the stores change above is kept.
    const result = await restoreBackup(client, { root, name, tables: ['order_items', 'orders'] });
    expect(result.tables.map((t) => t.name)).toEqual(['orders', 'order_items']);
    expect(result.keptParents.sort()).toEqual(['customers', 'menu_items', 'stores']);
    const now = await tableDigests(client, BACKUP_TABLES);
    expect(now.orders).toBe(original.orders);
    expect(now.order_items).toBe(original.order_items);
    expect(now.stores).not.toBe(original.stores);

    // Items whose orders are gone: the parent is named, nothing is written.
    await client.query('TRUNCATE public.orders CASCADE');
    const missingParent = restoreBackup(client, { root, name, tables: ['order_items'] });
    await expect(missingParent).rejects.toBeInstanceOf(RestoreRefusedError);
    await expect(missingParent).rejects.toThrow(/order_items has rows whose parent row in orders does not exist .*--tables=orders,order_items/);
    expect((await tableDigests(client, ['order_items'])).order_items).toBe('0:-');
    await restoreBackup(client, { root, name });
    expect(await tableDigests(client, BACKUP_TABLES)).toEqual(original);
  });

  it('refuses a backup taken at a newer schema version', async () => {
    const newerRoot = await mkdtemp(join(tmpdir(), 'cc-backup-newer-'));
    await cp(join(root, name), join(newerRoot, name), { recursive: true });
    const manifestPath = join(newerRoot, name, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.schema_version = '999_from_the_future';
    await writeFile(manifestPath, JSON.stringify(manifest));
    await client.query(`UPDATE public.stores SET name = 'changed again'`);
    const before = await tableDigests(client, BACKUP_TABLES);

    const attempt = restoreBackup(client, { root: newerRoot, name, dryRun: true });
    await expect(attempt).rejects.toBeInstanceOf(RestoreRefusedError);
    await expect(attempt).rejects.toThrow(/schema version 999_from_the_future, newer than this database's 0\d\d_/);
    await expect(restoreBackup(client, { root: newerRoot, name })).rejects.toThrow(/newer/);
    expect(await tableDigests(client, BACKUP_TABLES)).toEqual(before);
  });

  it('refuses to replace a complete backup unless forced; a backup that fails midway leaves nothing', async () => {
    await expect(createBackup(client, { root, name })).rejects.toBeInstanceOf(BackupExistsError);
    const firstManifest = await readFile(join(root, name, 'manifest.json'), 'utf8');
    const forced = await createBackup(client, { root, name, force: true });
    expect(forced.replaced).toBe(true);
    expect(await readFile(join(root, name, 'manifest.json'), 'utf8')).not.toBe(firstManifest);
    expect(await readdir(root)).toEqual([name]);

    // COPY cannot read a materialized view: the third table fails after two files were written.
    await expect(createBackup(client, { root, name: 'broken', tables: ['stores', 'orders', 'mv_order_health'] })).rejects.toThrow(/materialized view/);
    expect(await readdir(root)).toEqual([name]);
    expect((await events('backup')).at(-1)).toMatchObject({ status: 'failed', name: 'broken', tables: 2, rows: 4 + ORDERS });
  });
});

// `cc-ops backup` and `cc-ops restore` as an operator runs them (the built dist/ops/ops.js, a
// child process): real exit codes, real output. Needs a Postgres server (restore uses COPY FROM STDIN).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillAppTables, tableDigests } from '../../bench/app-data.js';
import { BACKUP_TABLES } from '../../src/ops/backup/tables.js';
import { backends, connect, createTestDatabase, type TestDatabase } from '../support/databases.js';

const opsJs = fileURLToPath(new URL('../../dist/ops/ops.js', import.meta.url));
const server = backends.find((b) => b.kind === 'postgres')!;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ops(args: string[], env: Record<string, string>): Promise<Ran> {
  const child = spawn(process.execPath, [opsJs, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('cc-ops backup / restore (help, usage)', () => {
  it('is built (npm test builds it first)', () => {
    expect(existsSync(opsJs), `${opsJs} is missing: run npm run build`).toBe(true);
  });

  it('lists both commands and answers --help with 0, bad usage with 2', async () => {
    const help = await ops(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^\s+backup\s+back up the app tables/m);
    expect(help.stdout).toMatch(/^\s+restore\s+restore a backup/m);
    const backupHelp = await ops(['backup', '--help'], {});
    expect(backupHelp.code).toBe(0);
    expect(backupHelp.stdout).toContain('stores, menu_categories, menu_items');
    expect((await ops(['restore', '--help'], {})).stdout).toContain('--dry-run');
    expect((await ops(['restore'], {})).code).toBe(2);
    expect((await ops(['restore', '../etc'], {})).code).toBe(2);
    expect((await ops(['backup', '--name', '../x'], {})).code).toBe(2);
    const noDb = await ops(['backup'], {});
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('backup: DATABASE_URL (or DATABASE_URL_FILE) is not set; it names the database to back up');
    // Nothing listens on port 1: exit 1, the URL shown without its password.
    const unreachable = await ops(['restore', 'x'], { DATABASE_URL: 'postgres://restorer:s3cret-pw@127.0.0.1:1/app' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('restore: cannot connect to postgres://restorer:***@127.0.0.1:1/app: ');
    expect(unreachable.stdout + unreachable.stderr).not.toContain('s3cret-pw');
  });
});

describe.skipIf(server.skip !== undefined)(`cc-ops backup / restore [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let client: pg.Client;
  let root: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    client = await connect(db);
    await fillAppTables(client, { orders: 500 });
    root = await mkdtemp(join(tmpdir(), 'cc-ops-backup-'));
    env = { DATABASE_URL: db.connectionString, BACKUP_DIR: root };
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  it('backs up into BACKUP_DIR/<UTC date>, refuses a second run without --force, restores with the exit codes of the contract', async () => {
    const original = await tableDigests(client, BACKUP_TABLES);
    const first = await ops(['backup'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const date = new Date().toISOString().slice(0, 10);
    expect(first.stdout).toMatch(new RegExp(`^backup ${date}: 12 tables, [\\d,]+ rows, .* -> ${root}/${date}\\n$`));
    expect(await readdir(root)).toEqual([date]);

    const second = await ops(['backup'], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already exists; pass --force/);
    expect((await ops(['backup', '--force'], env)).code).toBe(0);

    await client.query(`DELETE FROM public.order_items WHERE quantity = 1`);
    const dry = await ops(['restore', date, '--dry-run', '--tables=orders,order_items'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/nothing was written/);
    expect(dry.stdout).toMatch(/^\s+order_items\s+500\s+1,000\s+\+500$/m);

    const refused = await ops(['restore', date, '--tables=orders'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('orders is referenced by order_items');
    expect((await ops(['restore', '2001-01-01'], env)).code).toBe(2);

    const restored = await ops(['restore', date, '--tables=order_items,orders'], env);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/^restored \S+: 2 tables, 1,500 rows/);
    expect(await tableDigests(client, BACKUP_TABLES)).toEqual(original);

    // A corrupt file: exit 1, the file named, nothing written.
    const file = join(root, date, 'orders.copy.gz');
    const bytes = await readFile(file);
    bytes[bytes.length - 12]! ^= 0x01;
    await writeFile(file, bytes);
    await client.query(`DELETE FROM public.order_items WHERE quantity = 2`);
    const before = await tableDigests(client, BACKUP_TABLES);
    const corrupt = await ops(['restore', date], env);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/refused: the backup in .* is corrupt; nothing was written:\n\s+- orders\.copy\.gz: sha256/);
    expect(await tableDigests(client, BACKUP_TABLES)).toEqual(before);
  });
});

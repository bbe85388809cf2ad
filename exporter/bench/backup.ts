// Benchmark of backup and restore: the round trip (cc-ops backup, wipe, cc-ops restore, the data
// compared table by table) at 100,000 and at 1,000,000 orders (two items each, plus the small
// tables), beside pg_dump and pg_restore of the same tables in the same run. Every tool runs as
// its own process under GNU time, so each figure is that process's own duration and peak RSS.
// `npm run bench:backup` with BENCH_DATABASE_URL (or TEST_DATABASE_URL) naming a Postgres server;
// PG_BIN overrides the client tools' directory (default: the server's major version under
// /usr/lib/postgresql). BENCH_SIZES=100000,1000000 sets the order counts.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { BACKUP_TABLES } from '../src/ops/backup/tables.js';
import { createLogger } from '../src/log.js';
import { applySqlDir, migrate } from '../src/migrate.js';
import { exporterDir, sqlPaths } from '../src/paths.js';
import { fillAppTables, tableDigests } from './app-data.js';
import { withClient } from './database.js';

const SIZES = (process.env.BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const ITEMS_PER_ORDER = 2;
const opsJs = join(exporterDir, 'dist', 'ops', 'ops.js');

const started = performance.now();
const progress = (msg: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const fmt = (n: number) => n.toLocaleString('en-US');
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

interface Measured {
  seconds: number;
  maxRssKiB: number;
}

/** Run a command under GNU time; its wall time and peak RSS (KiB), or throw with its output. */
function measure(command: string, args: string[], env: Record<string, string> = {}): Measured {
  const timeFile = join(tmpdir(), `cc-bench-time-${randomBytes(4).toString('hex')}`);
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, command, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const timing = existsSync(timeFile) ? readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)! : '';
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}\n${timing}`);
  const [seconds, kib] = timing.split(' ').map(Number);
  return { seconds: seconds!, maxRssKiB: kib! };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += statSync(join(dir, f)).size;
  return total;
}

interface SizeResult {
  orders: number;
  rows: number;
  ours: { backup: Measured; restore: Measured; bytes: number };
  pg: { dump: Measured; restore: Measured; restoreChecked: Measured; bytes: number };
  identical: { ours: boolean; pg: boolean };
}

async function main(): Promise<void> {
  const serverUrl = process.env.BENCH_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  if (!serverUrl) {
    console.error('bench:backup needs a Postgres server (restore uses COPY FROM STDIN): set BENCH_DATABASE_URL or TEST_DATABASE_URL');
    process.exit(2);
  }
  if (!existsSync('/usr/bin/time')) {
    console.error('bench:backup needs GNU time (/usr/bin/time, Debian package time) to measure peak RSS');
    process.exit(2);
  }
  const serverVersion = await withClient(serverUrl, async (c) => (await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
  const major = Math.floor(Number(serverVersion) / 10000);
  const pgBin = process.env.PG_BIN ?? `/usr/lib/postgresql/${major}/bin`;
  for (const tool of ['pg_dump', 'pg_restore']) {
    if (!existsSync(join(pgBin, tool))) {
      console.error(`bench:backup: ${join(pgBin, tool)} not found (Debian: postgresql-client-${major}); set PG_BIN`);
      process.exit(2);
    }
  }

  const baseline = measure(process.execPath, [opsJs, 'backup', '--help']);
  progress(`baseline: cc-ops backup --help, peak RSS ${mib(baseline.maxRssKiB)}`);
  const name = `cc_bench_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const work = await mkdtemp(join(tmpdir(), 'cc-bench-backup-'));
  progress(`Postgres ${major} at ${url.host}, database ${name} (dropped at the end); files in ${work}; pg tools from ${pgBin}`);

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const results: SizeResult[] = [];
  try {
    await applySqlDir(client, sqlPaths.app);
    await migrate(client, { logger: createLogger('silent') });
    const tableList = BACKUP_TABLES.map((t) => `public.${t}`);
    const wipe = () => client.query(`TRUNCATE ${tableList.join(', ')} RESTART IDENTITY CASCADE`);
    let loaded = 0;
    for (const size of SIZES) {
      progress(`loading orders ${fmt(loaded)} -> ${fmt(size)} (${ITEMS_PER_ORDER} items each)`);
      await fillAppTables(client, { orders: size - loaded, offset: loaded, itemsPerOrder: ITEMS_PER_ORDER, withSmallTables: loaded === 0, bulk: true });
      loaded = size;
      await client.query('VACUUM ANALYZE');
      const digests = await tableDigests(client, BACKUP_TABLES, { exact: false });
      const rows = Object.values(digests).reduce((n, d) => n + Number(d.split(':')[0]), 0);
      progress(`${fmt(size)} orders: ${fmt(rows)} rows in the twelve tables`);

      const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' };
      const backupName = `orders-${size}`;
      const oursBackup = measure(process.execPath, [opsJs, 'backup', '--dir', join(work, 'ours'), '--name', backupName], env);
      const oursBytes = await dirBytes(join(work, 'ours', backupName));
      progress(`cc-ops backup: ${oursBackup.seconds} s, peak RSS ${mib(oursBackup.maxRssKiB)}, ${fmt(oursBytes)} bytes`);

      const dumpFile = join(work, `pg_dump-${size}.dump`);
      const dump = measure(join(pgBin, 'pg_dump'), ['--format=custom', '--data-only', ...tableList.flatMap((t) => ['--table', t]), '--file', dumpFile, '--dbname', databaseUrl]);
      const dumpBytes = statSync(dumpFile).size;
      progress(`pg_dump -Fc --data-only: ${dump.seconds} s, peak RSS ${mib(dump.maxRssKiB)}, ${fmt(dumpBytes)} bytes`);

      await wipe();
      const oursRestore = measure(process.execPath, [opsJs, 'restore', backupName, '--dir', join(work, 'ours')], env);
      const oursSame = JSON.stringify(await tableDigests(client, BACKUP_TABLES, { exact: false })) === JSON.stringify(digests);
      progress(`cc-ops restore: ${oursRestore.seconds} s, peak RSS ${mib(oursRestore.maxRssKiB)}; data identical: ${oursSame}`);

      await wipe();
      // --disable-triggers is pg_restore's way to skip the order trigger; it needs superuser and
      // turns off the foreign key checks too, which cc-ops restore keeps.
      const pgRestore = measure(join(pgBin, 'pg_restore'), ['--data-only', '--single-transaction', '--disable-triggers', '--dbname', databaseUrl, dumpFile]);
      const pgSame = JSON.stringify(await tableDigests(client, BACKUP_TABLES, { exact: false })) === JSON.stringify(digests);
      progress(`pg_restore --single-transaction --disable-triggers: ${pgRestore.seconds} s, peak RSS ${mib(pgRestore.maxRssKiB)}; data identical: ${pgSame}`);

      // The same work as cc-ops restore: user triggers off, foreign keys checked.
      await wipe();
      const userTriggers = async (on: boolean) => {
        for (const t of BACKUP_TABLES) await client.query(`ALTER TABLE public.${t} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
      };
      await userTriggers(false);
      const pgRestoreChecked = measure(join(pgBin, 'pg_restore'), ['--data-only', '--single-transaction', '--dbname', databaseUrl, dumpFile]);
      await userTriggers(true);
      const pgCheckedSame = JSON.stringify(await tableDigests(client, BACKUP_TABLES, { exact: false })) === JSON.stringify(digests);
      progress(`pg_restore --single-transaction, foreign keys checked: ${pgRestoreChecked.seconds} s, peak RSS ${mib(pgRestoreChecked.maxRssKiB)}; data identical: ${pgCheckedSame}`);
      // Back to the loaded state for the next size (pg_restore's copy is as good as any).
      if (!pgSame || !pgCheckedSame) throw new Error('pg_restore did not give the same data back');

      results.push({
        orders: size,
        rows,
        ours: { backup: oursBackup, restore: oursRestore, bytes: oursBytes },
        pg: { dump, restore: pgRestore, restoreChecked: pgRestoreChecked, bytes: dumpBytes },
        identical: { ours: oursSame, pg: pgSame },
      });
      await rm(dumpFile, { force: true });
      await rm(join(work, 'ours', backupName), { recursive: true, force: true });
    }
  } finally {
    await client.end();
    await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    await rm(work, { recursive: true, force: true });
  }

  const header = ['', ...results.map((r) => `${fmt(r.orders)} orders (${fmt(r.rows)} rows)`)];
  const row = (label: string, f: (r: SizeResult) => string) => [label, ...results.map(f)];
  const table = [
    header,
    header.map(() => '---'),
    row('cc-ops backup: time', (r) => `${r.ours.backup.seconds.toFixed(1)} s`),
    row('cc-ops backup: peak RSS', (r) => mib(r.ours.backup.maxRssKiB)),
    row('pg_dump -Fc --data-only: time', (r) => `${r.pg.dump.seconds.toFixed(1)} s`),
    row('pg_dump: peak RSS', (r) => mib(r.pg.dump.maxRssKiB)),
    row('size: cc-ops (gzip) / pg_dump (-Fc)', (r) => `${mib(r.ours.bytes / 1024)} / ${mib(r.pg.bytes / 1024)}`),
    row('cc-ops restore: time', (r) => `${r.ours.restore.seconds.toFixed(1)} s`),
    row('cc-ops restore: peak RSS', (r) => mib(r.ours.restore.maxRssKiB)),
    row('pg_restore --single-transaction, foreign keys checked: time', (r) => `${r.pg.restoreChecked.seconds.toFixed(1)} s`),
    row('pg_restore --single-transaction --disable-triggers (no foreign key checks): time', (r) => `${r.pg.restore.seconds.toFixed(1)} s`),
    row('pg_restore: peak RSS', (r) => mib(Math.max(r.pg.restore.maxRssKiB, r.pg.restoreChecked.maxRssKiB))),
    row('round trip (backup + restore), cc-ops / pg_dump + pg_restore with foreign keys checked', (r) =>
      `${(r.ours.backup.seconds + r.ours.restore.seconds).toFixed(1)} s / ${(r.pg.dump.seconds + r.pg.restoreChecked.seconds).toFixed(1)} s`,
    ),
    row('data identical after restore (cc-ops / pg_restore)', (r) => `${r.identical.ours} / ${r.identical.pg}`),
  ];
  console.log(`\n${table.map((cells) => `| ${cells.join(' | ')} |`).join('\n')}\n`);
  console.log(`baseline: the same process printing --help peaks at ${mib(baseline.maxRssKiB)} RSS`);
  if (results.length >= 2) {
    const [small, large] = [results[0]!, results.at(-1)!];
    console.log(
      `peak RSS, largest / smallest size (${fmt(large.orders / small.orders)}x the orders): ` +
        `backup ${(large.ours.backup.maxRssKiB / small.ours.backup.maxRssKiB).toFixed(2)}x, restore ${(large.ours.restore.maxRssKiB / small.ours.restore.maxRssKiB).toFixed(2)}x`,
    );
  }
  if (results.some((r) => !r.identical.ours)) process.exitCode = 1;
}

await main();

// The demo database `npm start` runs: the first start keeps a template, later ones load it, a
// changed migration set or a broken template starts from initdb, and nothing about the cache
// ever stops the demo from starting.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoDatabase, templateKey, type DemoDatabase } from '../src/demo-database.js';
import { createLogger } from '../src/log.js';
import { MIGRATIONS_TABLE } from '../src/migrate.js';
import { sqlPaths } from '../src/paths.js';

function recordingLogger() {
  const lines: Array<{ msg: string; [key: string]: unknown }> = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg: string });
        done();
      },
    }),
  );
  return { logger, lines };
}

/** What a start leaves in the database: the migrations applied and the demo data. */
async function contents(db: DemoDatabase): Promise<{ migrations: number; stores: number; orders: number }> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ migrations: number; stores: number; orders: number }>(
      `SELECT (SELECT count(*)::int FROM ${MIGRATIONS_TABLE.schema}.${MIGRATIONS_TABLE.table}) AS migrations,
              (SELECT count(*)::int FROM public.stores) AS stores,
              (SELECT count(*)::int FROM public.orders) AS orders`,
    );
    return rows[0]!;
  } finally {
    await client.end();
  }
}

async function withDemo<T>(options: Parameters<typeof startDemoDatabase>[0], body: (db: DemoDatabase) => Promise<T>): Promise<T> {
  const db = await startDemoDatabase(options);
  try {
    return await body(db);
  } finally {
    await db.stop();
  }
}

describe('the embedded demo database', () => {
  let dir: string;
  let migrationCount: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cc-demo-db-'));
    migrationCount = (await readdir(sqlPaths.migrations)).filter((f) => f.endsWith('.sql')).length;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a template at the first start and loads it at the next: same migrations, the demo data each time', async () => {
    const cacheDir = join(dir, 'cache');
    const { logger, lines } = recordingLogger();
    const first = await withDemo({ cacheDir, seed: true, logger }, async (db) => ({ source: db.source, ...(await contents(db)) }));
    expect(first.source).toBe('initdb');
    expect(first.migrations).toBe(migrationCount);
    expect(first.stores).toBeGreaterThan(0);
    expect(first.orders).toBeGreaterThan(0);
    const files = await readdir(cacheDir);
    expect(files).toEqual([`embedded-${await templateKey()}.tar.gz`]);
    expect(lines.map((l) => l.msg)).toContain('embedded database template kept for the next start');

    const second = await withDemo({ cacheDir, seed: true, logger }, async (db) => ({ source: db.source, ...(await contents(db)) }));
    expect(second).toEqual({ ...first, source: 'template' });
    // The template holds no demo data: without seed, a start from it is the migrated schema only.
    const unseeded = await withDemo({ cacheDir, seed: false, logger }, async (db) => ({ source: db.source, ...(await contents(db)) }));
    expect(unseeded).toEqual({ source: 'template', migrations: migrationCount, stores: 0, orders: 0 });
  });

  it('names the template after PGlite and every SQL file, so a changed or added migration makes a new one', async () => {
    const app = join(dir, 'key-app');
    const migrations = join(dir, 'key-migrations');
    await cp(sqlPaths.app, app, { recursive: true });
    await cp(sqlPaths.migrations, migrations, { recursive: true });
    const base = await templateKey([app, migrations]);
    expect(base).toBe(await templateKey([sqlPaths.app, sqlPaths.migrations]));
    expect(base).toBe(await templateKey());

    const [name] = (await readdir(migrations)).sort().slice(-1);
    await writeFile(join(migrations, name!), `${await readFile(join(migrations, name!), 'utf8')}\n-- changed\n`);
    const changed = await templateKey([app, migrations]);
    expect(changed).not.toBe(base);
    await writeFile(join(migrations, '999_new.sql'), 'SELECT 1;\n');
    const added = await templateKey([app, migrations]);
    expect(new Set([base, changed, added]).size).toBe(3);
    // Files other than .sql (a README, an editor's backup) change nothing.
    await writeFile(join(migrations, 'notes.txt'), 'x');
    expect(await templateKey([app, migrations])).toBe(added);
  });

  it('a template that does not load is removed with a warning, the start goes on from initdb and keeps a good one', async () => {
    const cacheDir = join(dir, 'corrupt');
    const file = join(cacheDir, `embedded-${await templateKey()}.tar.gz`);
    await withDemo({ cacheDir, seed: false, logger: recordingLogger().logger }, async () => undefined);
    const good = await readFile(file);
    // Truncated, as a full disk or a killed writer would leave it.
    await writeFile(file, good.subarray(0, Math.floor(good.length / 3)));
    const { logger, lines } = recordingLogger();
    const result = await withDemo({ cacheDir, seed: true, logger }, async (db) => ({ source: db.source, ...(await contents(db)) }));
    expect(result.source).toBe('initdb');
    expect(result.migrations).toBe(migrationCount);
    expect(result.orders).toBeGreaterThan(0);
    const warning = lines.find((l) => l.msg.startsWith('the embedded database template does not load'));
    expect(warning, JSON.stringify(lines)).toMatchObject({ template: file, level: 40 });
    // The broken file was replaced by a template that loads.
    const again = await withDemo({ cacheDir, seed: false, logger }, async (db) => db.source);
    expect(again).toBe('template');
  });

  it('starts from initdb, without a word of error, where no template can be written; keeps none with cacheDir null', async () => {
    // A file where the cache directory should be: mkdir fails as on a read-only installation
    // (a permission bit would not stop root).
    const blocked = join(dir, 'blocked');
    await writeFile(blocked, 'not a directory');
    const { logger, lines } = recordingLogger();
    const sources = [];
    for (let i = 0; i < 2; i++) sources.push(await withDemo({ cacheDir: join(blocked, 'cache'), seed: true, logger }, async (db) => db.source));
    expect(sources).toEqual(['initdb', 'initdb']);
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);

    const none = join(dir, 'none');
    expect(await withDemo({ cacheDir: null, seed: true, logger }, async (db) => ({ source: db.source, ...(await contents(db)) }))).toMatchObject({ source: 'initdb', migrations: migrationCount });
    await expect(readdir(none)).rejects.toThrow(/ENOENT/);
  });

  it('with a data directory keeps its data between starts and uses no template', async () => {
    const dataDir = join(dir, 'data');
    const cacheDir = join(dir, 'data-cache');
    const { logger } = recordingLogger();
    const first = await withDemo({ dataDir, cacheDir, seed: true, logger }, async (db) => {
      const client = new pg.Client({ connectionString: db.connectionString });
      await client.connect();
      await client.query(`UPDATE public.stores SET name = 'kept between starts' WHERE id = (SELECT id FROM public.stores ORDER BY id LIMIT 1)`);
      await client.end();
      return db.source;
    });
    const second = await withDemo({ dataDir, cacheDir, seed: true, logger }, async (db) => {
      const client = new pg.Client({ connectionString: db.connectionString });
      await client.connect();
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM public.stores WHERE name = 'kept between starts'`);
      await client.end();
      return { source: db.source, kept: rows[0]!.n };
    });
    expect(first).toBe('data directory');
    expect(second).toEqual({ source: 'data directory', kept: 1 });
    await expect(readdir(cacheDir)).rejects.toThrow(/ENOENT/);
  });
});

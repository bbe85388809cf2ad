// The embedded database `npm start` runs when DATABASE_URL is unset: PGlite with the app subset,
// the migrations and the demo data. Initdb and the migrations are most of a start (about 2 s of
// 3 on a quiet machine), so the first start keeps the migrated cluster, before the demo data, as
// a template (a gzipped data directory of about 5 MB, in node_modules/.cache/cc-exporter/), and
// later starts load it (about 0.5 s). The template is named after what made it: PGlite's
// version and the SQL of sql/app and sql/migrations, so a changed migration makes a new one. The
// demo data is loaded at every start, as its timestamps are relative to now().
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.js';
import type { Logger } from './log.js';
import { setUpDevelopmentDatabase } from './migrate.js';
import { cacheDir as defaultCacheDir, sqlPaths } from './paths.js';

export type DemoDatabaseSource = 'template' | 'initdb' | 'data directory';

export interface DemoDatabase extends EmbeddedDatabase {
  /** how the cluster came to be: loaded from the template, made by initdb, or the kept data directory */
  source: DemoDatabaseSource;
}

export interface DemoDatabaseOptions {
  /** EMBEDDED_DATA_DIR: a kept data directory (no template then). */
  dataDir?: string | undefined;
  /** Where templates are kept; null keeps none. */
  cacheDir?: string | null;
  seed: boolean;
  logger: Logger;
}

export async function startDemoDatabase({ dataDir, cacheDir = defaultCacheDir, seed, logger }: DemoDatabaseOptions): Promise<DemoDatabase> {
  if (dataDir) {
    const db = await startEmbeddedDatabase({ dataDir });
    return setUp({ ...db, source: 'data directory' }, seed, logger);
  }
  const file = cacheDir === null ? undefined : join(cacheDir, `embedded-${await templateKey()}.tar.gz`);
  const template = file ? await readFile(file).catch(() => undefined) : undefined;
  if (template && file) {
    try {
      const db = await startEmbeddedDatabase({ template });
      return await setUp({ ...db, source: 'template' }, seed, logger);
    } catch (err) {
      logger.warn({ template: file, err: (err as Error).message }, 'the embedded database template does not load: removing it and starting from initdb');
      await rm(file, { force: true });
    }
  }
  const db = await startEmbeddedDatabase();
  const demo: DemoDatabase = { ...db, source: 'initdb' };
  if (!file) return setUp(demo, seed, logger);
  try {
    await setUp(demo, false, logger);
    await keepTemplate(file, await db.dump());
    logger.info({ template: file }, 'embedded database template kept for the next start');
  } catch (err) {
    await db.stop().catch(() => undefined);
    throw err;
  }
  return setUp(demo, seed, logger).catch(async (err: unknown) => {
    await db.stop().catch(() => undefined);
    throw err;
  });
}

async function setUp(db: DemoDatabase, seed: boolean, logger: Logger): Promise<DemoDatabase> {
  const client = new pg.Client({ connectionString: db.connectionString });
  try {
    await client.connect();
    await setUpDevelopmentDatabase(client, { logger, seed });
  } catch (err) {
    await client.end().catch(() => undefined);
    await db.stop().catch(() => undefined);
    throw err;
  }
  await client.end();
  return db;
}

/** Written beside and renamed into place, so a crash or a second exporter never leaves half a file. */
async function keepTemplate(file: string, data: Uint8Array): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(partial, data);
    await rename(partial, file);
  } catch {
    // A read-only installation (the image's node_modules) starts from initdb every time.
    await rm(partial, { force: true }).catch(() => undefined);
  }
}

/** sha256 of PGlite's version and of every file of sql/app and sql/migrations (names and text). */
export async function templateKey(dirs: string[] = [sqlPaths.app, sqlPaths.migrations]): Promise<string> {
  const hash = createHash('sha256').update(`cc-embedded-template 1\npglite ${await pgliteVersion()}\n`);
  for (const dir of dirs) {
    for (const name of (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()) {
      hash.update(`${name}\n`).update(await readFile(join(dir, name))).update('\n');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

async function pgliteVersion(): Promise<string> {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
    for (;;) {
      const manifest = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
      if (manifest) {
        const { name, version } = JSON.parse(manifest) as { name?: string; version?: string };
        if (name === '@electric-sql/pglite') return version ?? 'unknown';
      }
      if (dirname(dir) === dir) return 'unknown';
      dir = dirname(dir);
    }
  } catch {
    return 'not installed';
  }
}

// Test databases: the embedded PGlite always, and a fresh database on a real Postgres server
// when TEST_DATABASE_URL is set (CI sets it; there a missing server is an error, not a skip).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { startDemoDatabase } from '../../src/demo-database.js';
import { startEmbeddedDatabase } from '../../src/embedded.js';
import { createLogger } from '../../src/log.js';
import { applySqlDir, migrate } from '../../src/migrate.js';
import { sqlPaths } from '../../src/paths.js';

export type BackendKind = 'pglite' | 'postgres';

export interface Backend {
  kind: BackendKind;
  /** why this backend is skipped here, if it is */
  skip: string | undefined;
}

const serverUrl = process.env.TEST_DATABASE_URL?.trim() || undefined;
if (process.env.CI === 'true' && !serverUrl) {
  throw new Error('CI=true but TEST_DATABASE_URL is not set: the Postgres server tests must run in CI');
}

export const backends: Backend[] = [
  { kind: 'pglite', skip: undefined },
  { kind: 'postgres', skip: serverUrl ? undefined : 'TEST_DATABASE_URL is not set' },
];

/** describe() once per backend; a skipped backend says why in its title. */
export function describeEachBackend(title: string, body: (kind: BackendKind) => void): void {
  for (const backend of backends) {
    const name = `${title} [${backend.kind}]${backend.skip ? ` (skipped: ${backend.skip})` : ''}`;
    describe.skipIf(backend.skip !== undefined)(name, () => body(backend.kind));
  }
}

export interface TestDatabase {
  kind: BackendKind;
  connectionString: string;
  stop(): Promise<void>;
}

export const silentLogger = createLogger('silent');

export interface SetupOptions {
  /** apply sql/app (default true) */
  app?: boolean;
  /** apply sql/migrations (default true) */
  migrations?: boolean;
  /** apply sql/seed (default false) */
  seed?: boolean;
}

/** A new, empty database of the given kind, set up as asked. */
export async function createTestDatabase(kind: BackendKind, options: SetupOptions = {}): Promise<TestDatabase> {
  const migrated = (options.app ?? true) && (options.migrations ?? true);
  const db = kind === 'pglite' ? await createPgliteDatabase(migrated) : await createServerDatabase();
  try {
    await setUp(db, options);
  } catch (err) {
    await db.stop();
    throw err;
  }
  return db;
}

async function setUp(db: TestDatabase, { app = true, migrations = true, seed = false }: SetupOptions): Promise<void> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  try {
    if (app) await applySqlDir(client, sqlPaths.app);
    if (migrations) await withServerLock(db.kind, () => migrate(client, { logger: silentLogger }));
    if (seed) await applySqlDir(client, sqlPaths.seed);
  } finally {
    await client.end();
  }
}

/**
 * A migrated PGlite database starts from the template `npm start` keeps (the app subset and the
 * migrations, see ../demo-database.ts): about 0.5 s instead of 2 s of initdb and migrations.
 * setUp() then applies both again, which finds nothing to do.
 */
async function createPgliteDatabase(migrated: boolean): Promise<TestDatabase> {
  const embedded = migrated ? await startDemoDatabase({ seed: false, logger: silentLogger }) : await startEmbeddedDatabase();
  return { kind: 'pglite', connectionString: embedded.connectionString, stop: () => embedded.stop() };
}

async function createServerDatabase(): Promise<TestDatabase> {
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `cc_test_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'postgres',
    connectionString: url.toString(),
    async stop() {
      const dropper = new pg.Client({ connectionString: serverUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/**
 * Roles are shared by every database of a server, and two migrations altering the same role
 * at once can fail with "tuple concurrently updated"; test files migrate in parallel, so they
 * take turns (an advisory lock in the server's base database).
 */
async function withServerLock<T>(kind: BackendKind, fn: () => Promise<T>): Promise<T> {
  if (kind !== 'postgres' || !serverUrl) return fn();
  const lock = new pg.Client({ connectionString: serverUrl });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(814771)');
    return await fn();
  } finally {
    await lock.end();
  }
}

/** A client connected to the test database, ended by the returned function's caller. */
export async function connect(db: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  return client;
}

/**
 * Wait until every runtime_metrics row of this database is settled. Transaction ids are
 * server-wide: a test file writing in another database of the same server holds back the event
 * cursor here until its transactions end, so tests about counts wait for that first.
 */
export async function waitUntilSettled(db: { query: pg.Pool['query'] } | pg.ClientBase, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ settled: boolean }>(
      `SELECT coalesce(max(tx) < pg_snapshot_xmin(pg_current_snapshot()), true) AS settled FROM public.runtime_metrics`,
    );
    if (rows[0]?.settled) return;
    if (Date.now() > deadline) throw new Error(`runtime_metrics rows still not settled after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// The embedded database: PGlite (Postgres compiled to WebAssembly) behind a loopback socket,
// so the exporter's unchanged pg code path talks to it. PGlite is one session: everything that
// uses it goes through one pool of one connection, so one client at a time runs statements.
//
// The socket still accepts a few connections, not one: pg's pool throws away a client after
// any failed query (a missing table, a division by zero) and connects the next one at once,
// while the old socket is still closing. With room for one connection only, that next one is
// refused ("Too many connections"), and the statement after every error failed with
// "Connection terminated unexpectedly". The extra slots only ever hold closing connections.
//
// PGlite is an optional dependency: the production image leaves it out (it monitors a real
// database), and the modules are loaded only when an embedded database is started.

import { gunzipSync } from 'node:zlib';

export interface EmbeddedDatabase {
  connectionString: string;
  /** The data directory as a gzipped tarball, for `template` of a later start. */
  dump(): Promise<Uint8Array>;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Data directory; undefined keeps the database in memory. */
  dataDir?: string | undefined;
  /** Loopback port for the socket; 0 picks a free one. */
  port?: number;
  /** A tarball from dump(): the database starts as it was dumped instead of from initdb (about 4× faster). */
  template?: Uint8Array | undefined;
}

/** connections the socket accepts at once: the pool's one, and those still closing */
const SOCKET_CONNECTIONS = 4;

export class EmbeddedUnavailableError extends Error {}

async function loadPglite(): Promise<{ PGlite: typeof import('@electric-sql/pglite').PGlite; PGLiteSocketServer: typeof import('@electric-sql/pglite-socket').PGLiteSocketServer }> {
  try {
    const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-socket')]);
    return { PGlite, PGLiteSocketServer };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new EmbeddedUnavailableError(
        'the embedded database needs the optional packages @electric-sql/pglite and @electric-sql/pglite-socket, which this installation leaves out (the production image does): set DATABASE_URL to the database to monitor',
      );
    }
    throw err;
  }
}

export async function startEmbeddedDatabase({ dataDir, port = 0, template }: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const { PGlite, PGLiteSocketServer } = await loadPglite();
  // Unpacked here, not by PGlite: its gunzip of a truncated file rejects a promise nobody awaits,
  // an uncaught error that would end the process; gunzipSync throws, and checks the CRC.
  const tar = template ? gunzipSync(template) : undefined;
  const db = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    ...(tar ? { loadDataDir: new Blob([tar as Uint8Array<ArrayBuffer>], { type: 'application/x-tar' }) } : {}),
  });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: SOCKET_CONNECTIONS });
  await server.start();
  const address = server.getServerConn();
  return {
    connectionString: `postgres://postgres@${address}/postgres?sslmode=disable`,
    async dump() {
      const blob = await db.dumpDataDir('gzip');
      return new Uint8Array(await blob.arrayBuffer());
    },
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

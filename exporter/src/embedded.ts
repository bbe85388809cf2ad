// The embedded database: PGlite (Postgres compiled to WebAssembly) behind a loopback socket,
// so the exporter's unchanged pg code path talks to it. PGlite is one session: everything that
// uses it goes through one pool of one connection, so one client at a time runs statements.
//
// The socket still accepts a few connections, not one: pg's pool throws away a client after
// any failed query (a missing table, a division by zero) and connects the next one at once,
// while the old socket is still closing. With room for one connection only, that next one is
// refused ("Too many connections"), and the statement after every error failed with
// "Connection terminated unexpectedly". The extra slots only ever hold closing connections.
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedDatabase {
  connectionString: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Data directory; undefined keeps the database in memory. */
  dataDir?: string | undefined;
  /** Loopback port for the socket; 0 picks a free one. */
  port?: number;
}

/** connections the socket accepts at once: the pool's one, and those still closing */
const SOCKET_CONNECTIONS = 4;

export async function startEmbeddedDatabase({ dataDir, port = 0 }: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: SOCKET_CONNECTIONS });
  await server.start();
  const address = server.getServerConn();
  return {
    connectionString: `postgres://postgres@${address}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

// The embedded database: PGlite (Postgres compiled to WebAssembly) behind a loopback socket,
// so the exporter's unchanged pg code path talks to it. PGlite is one session: the socket
// serves one connection at a time, so everything that uses it goes through one pool of one.
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

export async function startEmbeddedDatabase({ dataDir, port = 0 }: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port });
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

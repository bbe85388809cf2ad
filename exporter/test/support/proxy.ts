// A loopback TCP proxy in front of a test database, to take "Postgres" away and bring it back
// without touching the real server: cut() refuses connections and drops the open ones,
// blackhole() accepts connections and never answers, restore() forwards again on the same port.
import net from 'node:net';

export interface DbProxy {
  port: number;
  connectionString: string;
  cut(): Promise<void>;
  blackhole(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(targetConnectionString: string): Promise<DbProxy> {
  const target = new URL(targetConnectionString);
  const targetHost = target.hostname;
  const targetPort = Number(target.port || 5432);
  const sockets = new Set<net.Socket>();
  let mode: 'forward' | 'blackhole' = 'forward';

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  const server = net.createServer((client) => {
    track(client);
    if (mode === 'blackhole') return; // accept, read nothing, answer nothing
    const upstream = net.connect(targetPort, targetHost);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };

  const port = await listen(0);
  const url = new URL(targetConnectionString);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    port,
    connectionString: url.toString(),
    async cut() {
      const closed = stopListening();
      dropAll();
      await closed;
    },
    async blackhole() {
      mode = 'blackhole';
      dropAll();
      if (!server.listening) await listen(port);
    },
    async restore() {
      mode = 'forward';
      dropAll();
      if (!server.listening) await listen(port);
    },
    async close() {
      const closed = stopListening();
      dropAll();
      await closed;
    },
  };
}

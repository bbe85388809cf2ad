// A loopback HTTP front for a recording sink (Slack, Twilio), to make the SaaS misbehave
// without touching the sink: forward (pass every request on), fail(n, status) (answer the next
// n requests with that status), hang() (accept requests and never answer) and release() (drop
// the hung requests' connections and forward again). It counts what it saw in each mode.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FaultyFront {
  /** the front's base URL: the sink's URL with the front's host and port */
  url: string;
  /** requests answered by forwarding, by failing, and held by hanging */
  seen: { forwarded: number; failed: number; hung: number };
  /** requests hanging right now */
  hanging(): number;
  fail(n: number, status?: number): void;
  hang(): void;
  release(): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startFaultyFront(sinkUrl: string): Promise<FaultyFront> {
  const target = new URL(sinkUrl);
  let failures = 0;
  let failStatus = 500;
  let hangAll = false;
  const held = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const seen = { forwarded: 0, failed: 0, hung: 0 };

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (hangAll) {
      seen.hung++;
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    if (failures > 0) {
      failures--;
      seen.failed++;
      res.writeHead(failStatus, { 'Content-Type': 'text/plain' }).end('injected failure');
      return;
    }
    seen.forwarded++;
    try {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
      const upstream = await fetch(new URL(req.url ?? '/', target.origin), { method: req.method, headers, body: req.method === 'GET' ? undefined : new Uint8Array(body) });
      const answer = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? 'text/plain' }).end(answer);
    } catch (err) {
      res.writeHead(502).end(`front: sink unreachable: ${(err as Error).message}`);
    }
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = new URL(sinkUrl);
  url.host = `127.0.0.1:${port}`;

  return {
    url: url.toString().replace(/\/$/, sinkUrl.endsWith('/') ? '/' : ''),
    seen,
    hanging: () => held.size,
    fail(n, status = 500) {
      failures = n;
      failStatus = status;
    },
    hang() {
      hangAll = true;
    },
    release() {
      hangAll = false;
      for (const res of held) res.socket?.destroy();
      held.clear();
    },
    async close() {
      hangAll = false;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

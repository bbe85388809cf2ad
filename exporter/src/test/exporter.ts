// Running the exporter in the test process on a loopback port, configured like the real one.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Env } from '../config.js';
import { createExporter, type Exporter } from '../exporter.js';
import type { Logger } from '../log.js';
import { silentLogger } from './databases.js';

export interface RunningExporter extends Exporter {
  url: string;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; body: string; headers: Headers; ms: number }>;
  stop(): Promise<void>;
}

export async function startExporter(connectionString: string, env: Env = {}, logger: Logger = silentLogger): Promise<RunningExporter> {
  const config = loadConfig({ EXPORTER_PORT: '0', EXPORTER_HOST: '127.0.0.1', ...env });
  const exporter = createExporter(config, connectionString, logger);
  const server: Server = exporter.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...exporter,
    url,
    async get(path, headers = {}) {
      const started = performance.now();
      const res = await fetch(url + path, { headers });
      const body = await res.text();
      return { status: res.status, body, headers: res.headers, ms: performance.now() - started };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await exporter.close();
    },
  };
}

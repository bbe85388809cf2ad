// Running the exporter in the test process on a loopback port, configured like the real one.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Env } from '../../src/config.js';
import { createExporter, type Exporter } from '../../src/exporter.js';
import type { Logger } from '../../src/log.js';
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

/** The built exporter (npm run build), as `npm start` and the container run it. */
export const exporterBuild = fileURLToPath(new URL('../../dist/server.js', import.meta.url));

export interface ExporterProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | null>;
}

/**
 * Starts the built exporter as a process of its own with only PATH and `env` in its environment
 * (EXPORTER_PORT 0 unless given) and resolves once it has printed its URLs.
 */
export function startExporterProcess(env: Record<string, string>): Promise<ExporterProcess> {
  const child = spawn(process.execPath, [exporterBuild], {
    env: { PATH: process.env.PATH ?? '', EXPORTER_PORT: '0', EXPORTER_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 30 s:\n${output}`)), 30_000);
    const check = () => {
      const match = /metrics:\s+(http:\/\/\S+)\/metrics/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve({ child, url: match[1]!.replace('localhost', '127.0.0.1'), output: () => output, exited });
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before serving:\n${output}`));
    });
  });
}

// The exporter for tests and benchmarks: startExporter() runs it in the test process on a loopback
// port, configured like the real one; spawnExporter() runs the built process (node
// exporter/dist/server.js, as `npm start` and the image do) and learns its port from its JSON log.
// The benchmarks build this file too (tsconfig.bench.json): it imports nothing of vitest and
// nothing of test/ beside it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig, type Env } from '../../src/config.js';
import { createExporter, type Exporter } from '../../src/exporter.js';
import { createLogger, type Logger } from '../../src/log.js';
import { exporterDir } from '../../src/paths.js';

const silentLogger = createLogger('silent');

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
export const exporterBuild = join(exporterDir, 'dist', 'server.js');

/** How long a start may take before spawnExporter gives up: a warm start takes about 1.5 s, a first one (initdb) a few more. */
export const START_TIMEOUT_MS = 60_000;
/** How long stop() waits for the process to exit on its signal before it sends SIGKILL (SHUTDOWN_TIMEOUT_MS defaults to 10 s). */
export const KILL_AFTER_MS = 30_000;

export interface SpawnOptions {
  /** node's own options, before the script (--expose-gc, --require a preload) */
  nodeArgs?: string[];
  /** another build of server.js (the image's); default exporterBuild */
  serverJs?: string;
  cwd?: string;
  /** ms to wait for the listening lines; default START_TIMEOUT_MS */
  startTimeoutMs?: number;
}

export interface ExporterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stop() sent SIGKILL: the process had not exited on its signal within the wait */
  forced: boolean;
  /** the process could not be started at all */
  error?: string;
}

/** One `{"msg":"listening"}` line of the exporter's log: one per listener (main, and otlp with OTLP_PORT). */
export interface Listening {
  listener: string;
  host: string;
  port: number;
  url: string;
}

export interface ExporterProcess {
  child: ChildProcess;
  /** undefined only when the process could not be started (exited says why) */
  pid: number | undefined;
  /** every line written on stdout and stderr so far, in arrival order, without their newlines */
  output: string[];
  /** output as written: each line with its newline */
  text(): string;
  /** the listening lines logged so far, by listener */
  listeners: Map<string, Listening>;
  /**
   * The first line from index `from` (default 0) that contains `match` (or matches it), once it
   * is written; rejects with the last lines when the process exits first or after timeoutMs.
   */
  waitForLine(match: string | RegExp | ((line: string) => boolean), options?: { from?: number; timeoutMs?: number; what?: string }): Promise<string>;
  /** Sends `signal` (default SIGTERM) and resolves once the process has exited, with SIGKILL after killAfterMs. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<ExporterExit>;
  /** resolves once the process has exited and all its output is read */
  exited: Promise<ExporterExit>;
}

export interface SpawnedExporter extends ExporterProcess {
  pid: number;
  /** http://127.0.0.1:PORT: the main listener (everything, or everything but /v1/traces with OTLP_PORT) */
  url: string;
  port: number;
  /** the OTLP_PORT listener's base URL, when OTLP_PORT is set */
  otlpUrl: string | undefined;
}

function lastLines(output: string[], n = 40): string {
  return output.length === 0 ? '(it wrote nothing)' : output.slice(-n).map((l) => `  ${l}`).join('\n');
}

function describeExit(exit: ExporterExit): string {
  if (exit.error !== undefined) return `could not be started (${exit.error})`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/**
 * Starts the built exporter as a process of its own with only PATH, EXPORTER_PORT=0 (a free
 * port), EXPORTER_HOST=127.0.0.1 and `env` in its environment, and returns at once: for a test
 * of the start itself. spawnExporter() is the same process once it listens.
 */
export function launchExporter(env: Record<string, string>, options: SpawnOptions = {}): ExporterProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.serverJs ?? exporterBuild], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', EXPORTER_PORT: '0', EXPORTER_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const listeners = new Map<string, Listening>();
  const wake = new Set<() => void>();
  let ended: ExporterExit | undefined;
  let forced = false;
  const onLine = (line: string) => {
    output.push(line);
    if (line.startsWith('{')) {
      try {
        const entry = JSON.parse(line) as Partial<Listening> & { msg?: unknown };
        if (entry.msg === 'listening' && typeof entry.listener === 'string' && typeof entry.port === 'number' && typeof entry.url === 'string') {
          listeners.set(entry.listener, { listener: entry.listener, host: String(entry.host), port: entry.port, url: entry.url });
        }
      } catch {
        // a line that only looks like JSON
      }
    }
    for (const w of [...wake]) w();
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  // A leftover process would outlive the test run: it goes with this one.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  // 'close', not 'exit': all of its output has been read by then.
  const exited = new Promise<ExporterExit>((resolve) => {
    const end = (exit: ExporterExit) => {
      if (ended) return;
      ended = exit;
      process.off('exit', killOnExit);
      resolve(exit);
      for (const w of [...wake]) w();
    };
    child.once('close', (code, signal) => end({ code, signal, forced }));
    child.once('error', (err) => end({ code: null, signal: null, forced, error: err.message }));
  });

  const waitForLine: ExporterProcess['waitForLine'] = (match, { from = 0, timeoutMs = START_TIMEOUT_MS, what: named } = {}) => {
    const what = named ?? (typeof match === 'string' ? `a line with ${JSON.stringify(match)}` : typeof match === 'function' ? 'the line waited for' : `a line matching ${String(match)}`);
    const test = typeof match === 'string' ? (l: string) => l.includes(match) : match instanceof RegExp ? (l: string) => match.test(l) : match;
    let next = from;
    return new Promise<string>((resolve, reject) => {
      const check = () => {
        for (; next < output.length; next++) {
          if (test(output[next]!)) {
            done();
            resolve(output[next]!);
            return;
          }
        }
        if (ended) {
          done();
          reject(new Error(`the exporter (pid ${child.pid}) ${describeExit(ended)} before it wrote ${what}; its last lines:\n${lastLines(output)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`the exporter (pid ${child.pid}) did not write ${what} within ${timeoutMs / 1000} s; its last lines:\n${lastLines(output)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        wake.delete(check);
      };
      wake.add(check);
      check();
    });
  };

  const stop: ExporterProcess['stop'] = async (signal = 'SIGTERM', killAfterMs = KILL_AFTER_MS) => {
    if (ended) return ended;
    child.kill(signal);
    if (signal === 'SIGKILL') return exited;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), killAfterMs)));
    const first = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (first !== 'late') return first;
    forced = true;
    child.kill('SIGKILL');
    return exited;
  };

  return { child, pid: child.pid, output, text: () => output.map((l) => `${l}\n`).join(''), listeners, waitForLine, stop, exited };
}

/**
 * Starts the built exporter (see launchExporter for its environment) and resolves once it has
 * logged its `{"msg":"listening"}` line (and the otlp one too when OTLP_PORT is set), with its
 * URL and port. The line is printed at every LOG_LEVEL but silent (server.ts says why). A
 * process that exits first, or logs no port within startTimeoutMs, is an error with its last
 * lines (and is killed).
 */
export async function spawnExporter(env: Record<string, string>, options: SpawnOptions = {}): Promise<SpawnedExporter> {
  if (env.LOG_LEVEL === 'silent') throw new Error('spawnExporter: at LOG_LEVEL=silent the exporter logs no {"msg":"listening"} line; use launchExporter');
  const started = launchExporter(env, options);
  const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  const wanted = env.OTLP_PORT ? ['main', 'otlp'] : ['main'];
  try {
    await started.waitForLine(() => wanted.every((l) => started.listeners.has(l)), { timeoutMs, what: `its {"msg":"listening"} line (${wanted.join(' and ')})` });
  } catch (err) {
    await started.stop('SIGKILL');
    throw err;
  }
  const base = (l: Listening) => l.url.replace('//localhost:', '//127.0.0.1:');
  const main = started.listeners.get('main')!;
  const otlp = started.listeners.get('otlp');
  return Object.assign(started, { pid: started.child.pid!, url: base(main), port: main.port, otlpUrl: otlp && base(otlp) });
}

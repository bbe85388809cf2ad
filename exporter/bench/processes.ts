// Shared by the benchmark scripts that run the exporter as its own process (bench:events part (b),
// npm run load): a throwaway database on the server, a login acting as cc_exporter, the exporter
// child process, and its memory from /proc.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { withClient } from './database.js';
import type { LoadResult } from './ingest-load.js';
import { spawnExporter } from '../test/support/exporter.js';

export interface BenchDatabase {
  name: string;
  host: string;
  connectionString: string;
  stop(): Promise<void>;
}

/** A fresh database on the server, dropped by stop(). */
export async function openDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `cc_bench_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    host: url.host,
    connectionString: url.toString(),
    stop: async () => {
      await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds a process has used (user + system), and its command name, from /proc/<pid>/stat. */
export function procStat(pid: number | string): { comm: string; cpu: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    return { comm, cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS }; // utime, stime (fields 14 and 15)
  } catch {
    return undefined;
  }
}

/** The machine's busy and total CPU time (all CPUs), seconds, from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const n = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = n.reduce((a, b) => a + b, 0);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** A /proc/<pid>/status field in KiB (VmRSS, VmHWM), or undefined when the process is gone or there is no /proc. */
export function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface ExporterLogin {
  role: string;
  connectionString: string;
  drop(): Promise<void>;
}

/**
 * A throwaway login that acts as cc_exporter: member of it, `SET role = cc_exporter` at login
 * (current_user is cc_exporter, so the grants and row level security are production's) and
 * cc_exporter's own role settings. cc_exporter is a role of the whole server and may already
 * have a password someone relies on, so the bench does not change it.
 */
export async function createExporterLogin(admin: pg.Client, db: BenchDatabase): Promise<ExporterLogin> {
  const role = `cc_bench_exporter_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(24).toString('base64url');
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE cc_exporter`);
  const drop = async () => {
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
  };
  try {
    await admin.query(`ALTER ROLE ${role} SET role = 'cc_exporter'`);
    const { rows } = await admin.query<{ sql: string }>(
      `SELECT format('ALTER ROLE %I SET %s = %L', $1::text, split_part(c, '=', 1), substr(c, strpos(c, '=') + 1)) AS sql
         FROM pg_roles, unnest(rolconfig) AS c WHERE rolname = 'cc_exporter'`,
      [role],
    );
    for (const { sql } of rows) await admin.query(sql);
    const url = new URL(db.connectionString);
    url.username = role;
    url.password = password;
    const connectionString = url.toString();
    const who = await withClient(connectionString, (c) => c.query<{ u: string }>('SELECT current_user AS u'));
    if (who.rows[0]?.u !== 'cc_exporter') throw new Error(`the bench login ${role} runs as ${who.rows[0]?.u}, expected cc_exporter`);
    return { role, connectionString, drop };
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
}

export interface ExporterChild {
  pid: number;
  /** http://127.0.0.1:PORT, the base of /v1/traces */
  url: string;
  /** what it has written on stdout and stderr but its banner and listening lines (warnings and errors, at LOG_LEVEL=warn) */
  readonly output: string[];
  stop(): Promise<string>;
}

/** `node exporter/dist/server.js` against the bench database (test/support/exporter.ts starts it); resolves once it listens. */
export async function startExporterChild(connectionString: string, nodeArgs: string[], exporterEnv: Record<string, string>): Promise<ExporterChild> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && name !== 'DATABASE_URL_FILE') env[name] = value;
  const exporter = await spawnExporter({ ...env, ...exporterEnv, DATABASE_URL: connectionString }, { nodeArgs });
  // The banner and the listening lines say where it serves; anything else it writes (LOG_LEVEL=warn) is kept.
  const banner = /^\s*(?:$|Connect Observability exporter |metrics: |health: |traces: |database: )|"msg":"listening"/;
  return {
    pid: exporter.pid,
    url: exporter.url,
    get output() {
      return exporter.output.filter((line) => !banner.test(line));
    },
    async stop() {
      const exit = await exporter.stop('SIGTERM', 15_000);
      const how = exit.error !== undefined ? `could not start: ${exit.error}` : exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
      return exit.forced ? `${how} (SIGTERM ignored for 15 s)` : how;
    },
  };
}

export interface GeneratorRun {
  concurrency: number;
  spansPerRequest: number;
  warmupSeconds: number;
  /** a fixed schedule at this rate (npm run load); as fast as the answers come when absent */
  requestsPerSecond?: number;
}

/** One run of the load generator (ingest-load.ts) in its own process; its JSON line. */
export async function runLoadGenerator(url: string, seconds: number, run: GeneratorRun): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./ingest-load.js', import.meta.url));
  const args = [script, url, String(seconds), String(run.concurrency), String(run.spansPerRequest), String(run.warmupSeconds)];
  if (run.requestsPerSecond !== undefined) args.push(String(run.requestsPerSecond));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const limit = setTimeout(() => child.kill('SIGKILL'), (run.warmupSeconds + seconds + 90) * 1000);
  const code = await new Promise<number | string>((resolve) => {
    child.once('exit', (c, signal) => resolve(signal ?? c ?? -1));
    child.once('error', (err) => resolve(err.message));
  });
  clearTimeout(limit);
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`the load generator failed (${code}): ${stderr.trim() || stdout.trim()}`);
  return JSON.parse(line) as LoadResult;
}

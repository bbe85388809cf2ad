// The exporter as a process (the built dist/server.js, as `npm start` runs it): the embedded
// default serves live metrics, keeps its data directory across restarts, stops cleanly on
// SIGTERM, and refuses a bad configuration listing every problem.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition } from './support/metrics.js';

const serverJs = fileURLToPath(new URL('../dist/server.js', import.meta.url));

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function startServer(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [serverJs], {
    env: { PATH: process.env.PATH ?? '', EXPORTER_PORT: '0', EXPORTER_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 30 s:\n${output}`)), 30_000);
    const check = () => {
      const match = /metrics:\s+(http:\/\/\S+)\/metrics/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!.replace('localhost', '127.0.0.1'), output: () => output });
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before serving:\n${output}`));
    });
  });
}

async function stopServer(started: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  started.child.kill('SIGTERM');
  return exited;
}

describe('exporter process', () => {
  it('is built (npm test builds it first)', () => {
    expect(existsSync(serverJs), `${serverJs} is missing: run npm run build`).toBe(true);
  });

  it('serves live demo metrics on the embedded database, keeps its data dir, and stops on SIGTERM', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'cc-embedded-')), 'pgdata');
    const first = await startServer({ EMBEDDED_DATA_DIR: dataDir, EMBEDDED_SIMULATOR_INTERVAL_MS: '200' });
    const series = parseExposition(await (await fetch(`${first.url}/metrics`)).text());
    expect(series.get('cc_up')).toBe(1);
    const active = [...series].filter(([k]) => k.startsWith('cc_orders_active{')).reduce((n, [, v]) => n + v, 0);
    expect(active).toBeGreaterThan(0);
    expect(first.output()).toContain('demo data loaded');
    // A progress line while the embedded database boots, before the banner.
    const progress = first.output().indexOf('  DATABASE_URL is not set: starting the embedded demo database (PGlite)...\n');
    expect(progress).toBeGreaterThanOrEqual(0);
    expect(progress).toBeLessThan(first.output().indexOf('Connect Observability exporter'));
    await expect.poll(() => first.output(), { timeout: 10_000 }).toMatch(/"source":"data directory","ms":\d+,"msg":"embedded database ready"/);
    expect(first.output()).toContain("  DEMO: DATABASE_URL is not set, so this serves invented orders and events, not your app's; set DATABASE_URL to monitor your app");

    // The simulator moves orders: within a few seconds the active-order series change.
    const activeOf = async (url: string) => {
      const body = await (await fetch(`${url}/metrics`)).text();
      return JSON.stringify([...parseExposition(body)].filter(([k]) => k.startsWith('cc_orders_active{')));
    };
    const initial = await activeOf(first.url);
    let changed = false;
    for (let i = 0; i < 50 && !changed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      changed = (await activeOf(first.url)) !== initial;
    }
    expect(changed).toBe(true);
    const deployed = async (url: string) =>
      parseExposition(await (await fetch(`${url}/metrics`)).text()).get(
        'cc_deployment_info{environment="production",version="1.9.1",commit_sha="c0ffee5",status="success"}',
      );
    expect(await deployed(first.url)).toBe(1);
    expect(await stopServer(first)).toBe(0);
    expect(first.output()).toContain('"msg":"stopped"');

    const second = await startServer({ EMBEDDED_DATA_DIR: dataDir, EMBEDDED_SIMULATOR: 'false' });
    expect(second.output()).not.toContain('demo data loaded');
    expect(await deployed(second.url)).toBe(1);
    expect(await stopServer(second)).toBe(0);
  });

  it('never serves the demo for a typo of DATABASE_URL: exit 2 naming it; other near misses and stray settings are warned about by name', async () => {
    const typo = spawnSync(process.execPath, [serverJs], { env: { PATH: process.env.PATH ?? '', DATABSE_URL: 'postgres://app:pw@db.internal/app' }, encoding: 'utf8' });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('DATABSE_URL is set but DATABASE_URL is not: did you mean DATABASE_URL? Without DATABASE_URL the exporter serves invented demo data');
    expect(typo.stdout).not.toContain('DEMO');
    const warned = await startServer({ EMBEDDED_SIMULATOR: 'false', OTLP_RATE_LIMT_PER_MINUTE: '5', EXPORTER_COLOR: 'blue', PORT: 'abc' });
    // The banner may reach the pipe in more than one chunk: wait for its end (the blank line after it).
    await expect.poll(() => /warning: PORT[^\n]*\n\n/.test(warned.output()), { timeout: 10_000 }).toBe(true);
    expect(warned.output()).toContain('  warning: OTLP_RATE_LIMT_PER_MINUTE is not a setting: did you mean OTLP_RATE_LIMIT_PER_MINUTE? (it is ignored)');
    expect(warned.output()).toContain('  warning: EXPORTER_COLOR is not a setting of the exporter');
    expect(warned.output()).toContain('  warning: PORT is set but not read here: the exporter listens on EXPORTER_PORT');
    // In memory: from the kept template, or from initdb on the first start of this installation.
    await expect.poll(() => warned.output(), { timeout: 10_000 }).toMatch(/"source":"(template|initdb)","ms":\d+,"msg":"embedded database ready"/);
    expect(await stopServer(warned)).toBe(0);
  });

  it('a SIGTERM while it starts (or just as it announces itself) is a clean shutdown, exit 0, never a kill', async () => {
    const child = spawn(process.execPath, [serverJs], {
      env: { PATH: process.env.PATH ?? '', EXPORTER_PORT: '0', EXPORTER_HOST: '127.0.0.1', EMBEDDED_SIMULATOR: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    // as soon as it logs its first line: the embedded database is still starting
    await expect.poll(() => output.length > 0, { timeout: 30_000 }).toBe(true);
    const exited = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    child.kill('SIGTERM');
    expect(await exited, output).toEqual([0, null]);
    expect(output).toContain('"msg":"stopped"');
  });

  it('with DATABASE_URL set but unreachable: its own cc_up 0, never the demo', async () => {
    const started = await startServer({ DATABASE_URL: 'postgres://app:pw@127.0.0.1:9/app', DB_CONNECT_TIMEOUT_MS: '500' });
    const series = parseExposition(await (await fetch(`${started.url}/metrics`)).text());
    expect(series.get('cc_up')).toBe(0);
    expect([...series.keys()].filter((k) => k.startsWith('cc_orders_active'))).toEqual([]);
    expect(started.output()).not.toContain('DEMO');
    expect(started.output()).not.toContain('demo data loaded');
    expect(await stopServer(started)).toBe(0);
  });

  it('refuses a bad configuration, listing every problem, with exit code 2', () => {
    const result = spawnSync(process.execPath, [serverJs], {
      env: { PATH: process.env.PATH ?? '', EXPORTER_PORT: 'x', COLLECTORS: 'nope', DATABASE_URL: 'mysql://u:secretpw@h/d' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('EXPORTER_PORT must be a whole number');
    expect(result.stderr).toContain('unknown collector "nope"');
    expect(result.stderr).toContain('DATABASE_URL must be a postgres');
    expect(result.stderr).not.toContain('secretpw');
  });
});

// The exporter as a process (the built dist/server.js, as `npm start` runs it): the embedded
// default serves live metrics, keeps its data directory across restarts, stops cleanly on
// SIGTERM, and refuses a bad configuration listing every problem.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../src/ops/stack/processes.js';
import { exporterBuild as serverJs, launchExporter, spawnExporter, type ExporterProcess } from './support/exporter.js';
import { parseExposition } from './support/metrics.js';

const processes: ExporterProcess[] = [];
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop('SIGKILL')));
});

async function startServer(env: Record<string, string>) {
  const p = await spawnExporter(env);
  processes.push(p);
  return p;
}

// A test starts up to two processes: spawnExporter's own limit (60 s a start) fails first, with
// the process's last lines, before the test's.
describe('exporter process', { timeout: 180_000 }, () => {
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
    expect(first.text()).toContain('demo data loaded');
    // A progress line while the embedded database boots, before the banner.
    const progress = first.text().indexOf('  DATABASE_URL is not set: starting the embedded demo database (PGlite)...\n');
    expect(progress).toBeGreaterThanOrEqual(0);
    expect(progress).toBeLessThan(first.text().indexOf('Connect Observability exporter'));
    await expect.poll(() => first.text(), { timeout: 10_000 }).toMatch(/"source":"data directory","ms":\d+,"msg":"embedded database ready"/);
    expect(first.text()).toContain("  DEMO: DATABASE_URL is not set, so this serves invented orders and events, not your app's; set DATABASE_URL to monitor your app");

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
    expect((await first.stop()).code).toBe(0);
    expect(first.text()).toContain('"msg":"stopped"');

    const second = await startServer({ EMBEDDED_DATA_DIR: dataDir, EMBEDDED_SIMULATOR: 'false' });
    expect(second.text()).not.toContain('demo data loaded');
    expect(await deployed(second.url)).toBe(1);
    expect((await second.stop()).code).toBe(0);
  });

  it('never serves the demo for a typo of DATABASE_URL: exit 2 naming it; other near misses and stray settings are warned about by name', async () => {
    const typo = spawnSync(process.execPath, [serverJs], { env: { PATH: process.env.PATH ?? '', DATABSE_URL: 'postgres://app:pw@db.internal/app' }, encoding: 'utf8' });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('DATABSE_URL is set but DATABASE_URL is not: did you mean DATABASE_URL? Without DATABASE_URL the exporter serves invented demo data');
    expect(typo.stdout).not.toContain('DEMO');
    const warned = await startServer({ EMBEDDED_SIMULATOR: 'false', OTLP_RATE_LIMT_PER_MINUTE: '5', EXPORTER_COLOR: 'blue', PORT: 'abc' });
    // The banner may reach the pipe in more than one chunk: wait for its end (the blank line after it).
    await expect.poll(() => /warning: PORT[^\n]*\n\n/.test(warned.text()), { timeout: 10_000 }).toBe(true);
    expect(warned.text()).toContain('  warning: OTLP_RATE_LIMT_PER_MINUTE is not a setting: did you mean OTLP_RATE_LIMIT_PER_MINUTE? (it is ignored)');
    expect(warned.text()).toContain('  warning: EXPORTER_COLOR is not a setting of the exporter');
    expect(warned.text()).toContain('  warning: PORT is set but not read here: the exporter listens on EXPORTER_PORT');
    // In memory: from the kept template, or from initdb on the first start of this installation.
    await expect.poll(() => warned.text(), { timeout: 10_000 }).toMatch(/"source":"(template|initdb)","ms":\d+,"msg":"embedded database ready"/);
    expect((await warned.stop()).code).toBe(0);
  });

  it('a SIGTERM while it starts (or just as it announces itself) is a clean shutdown, exit 0, never a kill', async () => {
    const starting = launchExporter({ EMBEDDED_SIMULATOR: 'false' });
    processes.push(starting);
    // as soon as it writes its first line: the embedded database is still starting
    await starting.waitForLine(() => true);
    expect(await starting.stop('SIGTERM'), starting.text()).toEqual({ code: 0, signal: null, forced: false });
    expect(starting.text()).toContain('"msg":"stopped"');
  });

  it('with DATABASE_URL set but unreachable: its own cc_up 0, never the demo', async () => {
    const started = await startServer({ DATABASE_URL: 'postgres://app:pw@127.0.0.1:9/app', DB_CONNECT_TIMEOUT_MS: '500' });
    const series = parseExposition(await (await fetch(`${started.url}/metrics`)).text());
    expect(series.get('cc_up')).toBe(0);
    expect([...series.keys()].filter((k) => k.startsWith('cc_orders_active'))).toEqual([]);
    expect(started.text()).not.toContain('DEMO');
    expect(started.text()).not.toContain('demo data loaded');
    expect((await started.stop()).code).toBe(0);
  });

  it('logs one {"msg":"listening"} JSON line per listener with its port, at info, even at LOG_LEVEL=warn; none at silent', async () => {
    const otlpPort = await freePort();
    const env = { DATABASE_URL: 'postgres://app:pw@127.0.0.1:9/app', DB_CONNECT_TIMEOUT_MS: '500', OTLP_PORT: String(otlpPort) };
    const warn = await startServer({ ...env, LOG_LEVEL: 'warn' });
    const listening = warn.output.filter((l) => l.includes('"msg":"listening"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(listening).toEqual([
      expect.objectContaining({ level: 30, listener: 'main', host: '127.0.0.1', port: warn.port, url: `http://127.0.0.1:${warn.port}` }),
      expect.objectContaining({ level: 30, listener: 'otlp', host: '127.0.0.1', port: otlpPort, url: `http://127.0.0.1:${otlpPort}` }),
    ]);
    expect(warn.port).not.toBe(otlpPort);
    expect(warn.otlpUrl).toBe(`http://127.0.0.1:${otlpPort}`);
    expect((await fetch(`${warn.url}/healthz`)).status).toBe(200);
    // the rest of info stays out at warn
    expect(warn.text()).not.toContain('"msg":"cc-exporter listening"');
    expect((await warn.stop()).code).toBe(0);
    expect(warn.text()).not.toContain('"msg":"stopped"');

    // silent: no JSON line at all, the banner still (it is not a log)
    const silent = launchExporter({ ...env, LOG_LEVEL: 'silent' });
    processes.push(silent);
    await silent.waitForLine(/^\s+metrics:\s+http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(await silent.stop(), silent.text()).toEqual({ code: 0, signal: null, forced: false });
    expect(silent.output.filter((l) => l.startsWith('{'))).toEqual([]);
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

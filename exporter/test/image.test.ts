// The exporter image's /app, assembled from exporter/Dockerfile without Docker
// (scripts/image-contents.mjs runs the deps stage's install as written): production
// dependencies of the exporter only, at the lockfile's versions, no PGlite; and what it holds
// runs: the exporter against a database, cc-ops, and a clear exit 2 without DATABASE_URL.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, type TestDatabase } from './support/databases.js';
import { spawnExporter } from './support/exporter.js';
import { parseExposition } from './support/metrics.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let out: string;
let app: string;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'cc-image-'));
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'image-contents.mjs'), out], { encoding: 'utf8', timeout: 300_000 });
  expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
  expect(result.stdout).toMatch(/node_modules +\d+\.\d MB/);
  app = join(out, 'app');
}, 360_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Every package installed under node_modules (scoped ones as @scope/name), with its version. */
function installed(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (modules: string, prefix: string) => {
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(modules, entry.name);
      if (entry.name.startsWith('@') && !prefix) {
        visit(path, `${entry.name}/`);
        continue;
      }
      const manifest = join(path, 'package.json');
      if (!existsSync(manifest) || entry.isSymbolicLink()) continue;
      const rel = `${modules.slice(dir.length + 1)}/${entry.name}`;
      found.set(rel, (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version);
      if (existsSync(join(path, 'node_modules'))) visit(join(path, 'node_modules'), '');
    }
  };
  visit(join(dir, 'node_modules'), '');
  return found;
}

describe('the exporter image', () => {
  it('holds the exporter production dependencies only, at the lockfile versions: no PGlite, no dev tools, no web-otel SDK', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean; optional?: boolean }> };
    const packages = installed(app);
    expect(packages.size).toBeGreaterThan(50);
    for (const [path, version] of packages) {
      const locked = lock.packages[path];
      expect(locked, `${path} is not in package-lock.json`).toBeDefined();
      expect(version, path).toBe(locked!.version);
      expect(locked!.dev, `${path} is a dev dependency`).not.toBe(true);
    }
    const names = [...packages.keys()];
    for (const left of ['node_modules/@electric-sql/pglite', 'node_modules/@electric-sql/pglite-socket', 'node_modules/typescript', 'node_modules/vitest']) expect(names).not.toContain(left);
    // prom-client's API only: the SDK packages are web-otel's.
    expect(names.filter((n) => n.startsWith('node_modules/@opentelemetry/'))).toEqual(['node_modules/@opentelemetry/api']);
    for (const needed of ['express', 'pg', 'prom-client', 'pino', 'protobufjs', 'node-pg-migrate']) expect(names).toContain(`node_modules/${needed}`);
    expect(existsSync(join(app, 'exporter', 'dist', 'server.js'))).toBe(true);
    expect(existsSync(join(app, 'sql', 'migrations'))).toBe(true);
  });

  it('holds no test or benchmark code: no tests, no harness, nothing that imports vitest or fast-check', () => {
    const files = readdirSync(join(app, 'exporter'), { recursive: true, encoding: 'utf8' });
    expect(files.filter((f) => f.endsWith('.js')).length).toBeGreaterThan(50);
    expect(files.filter((f) => /(^|\/)(test|bench|dist-bench)(\/|$)|\.test\.js/.test(f))).toEqual([]);
    const testing = files.filter((f) => f.endsWith('.js') && /from ['"](vitest|fast-check)['"]/.test(readFileSync(join(app, 'exporter', f), 'utf8')));
    expect(testing).toEqual([]);
  });

  it('without DATABASE_URL exits 2 saying the embedded database is left out of it, never a stack trace', () => {
    const result = spawnSync(process.execPath, [join(app, 'exporter', 'dist', 'server.js')], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', EXPORTER_PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('the embedded database needs the optional packages @electric-sql/pglite and @electric-sql/pglite-socket, which this installation leaves out');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('runs cc-ops', () => {
    const result = spawnSync(process.execPath, [join(app, 'exporter', 'bin', 'cc-ops.js'), '--help'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('usage: cc-ops <command> [options]');
  });
});

describeEachBackend('the exporter image serving a database', (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(kind, { seed: true });
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('scrapes it: cc_up 1, the orders, process metrics', async () => {
    const exporter = await spawnExporter(
      { NODE_ENV: 'production', DATABASE_URL: db.connectionString },
      { serverJs: join(app, 'exporter', 'dist', 'server.js'), cwd: app },
    );
    try {
      const series = parseExposition(await (await fetch(`${exporter.url}/metrics`)).text());
      expect(series.get('cc_up'), exporter.text()).toBe(1);
      expect([...series.keys()].some((k) => k.startsWith('cc_orders_active{'))).toBe(true);
      expect(series.has('process_resident_memory_bytes')).toBe(true);
      expect(exporter.text()).not.toContain('DEMO');
    } finally {
      await exporter.stop();
    }
  }, 120_000); // above spawnExporter's 60 s to start, so its error (with the process's last lines) comes first
});

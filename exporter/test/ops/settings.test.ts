// The ops CLI reads its own settings (src/ops/settings.ts), not the exporter's: the built cc-ops
// as a child process with an environment the exporter refuses beside a valid DATABASE_URL still
// backs up, restores, migrates and lists alerts; a bad DATABASE_URL is still exit 2 naming it,
// without the password. And smoke sends VERCEL_AUTOMATION_BYPASS_SECRET, read there too.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOps } from '../support/cli.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/databases.js';

const server = backends.find((b) => b.kind === 'postgres')!;

/** Settings the exporter refuses at start (exit 2) or warns about; none of them is cc-ops's. */
const BROKEN_EXPORTER_SETTINGS = {
  EXPORTER_PORT: 'abc',
  EXPORTR_PORT: '1',
  COLLECTORS: 'orders,nope',
  OTLP_SERVER_TOKEN: 'too-short',
};

describe('cc-ops settings: a bad DATABASE_URL', () => {
  const bad = { DATABASE_URL: 'mysql://backup:s3cret-pw@db.example.com/app', ...BROKEN_EXPORTER_SETTINGS };

  it.each([
    [['backup'], 'backup'],
    [['restore', '2025-12-01', '--dry-run'], 'restore'],
    [['migrate'], 'db:migrate'],
    [['alerts', 'list'], 'alerts'],
  ])('%j: exit 2 naming DATABASE_URL alone, never the password', async (args, command) => {
    const r = await runOps(args, bad);
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toBe(`${command}: invalid configuration:\n  - DATABASE_URL must be a postgres:// or postgresql:// connection string\n`);
    expect(r.output).not.toContain('s3cret-pw');
  });

  it('an unreadable DATABASE_URL_FILE, or a near miss of the name, is exit 2 too', async () => {
    const missing = join(tmpdir(), 'cc-ops-no-such-file');
    const unreadable = await runOps(['backup'], { DATABASE_URL_FILE: missing, ...BROKEN_EXPORTER_SETTINGS });
    expect(unreadable.code, unreadable.output).toBe(2);
    expect(unreadable.stderr).toBe(`backup: invalid configuration:\n  - DATABASE_URL_FILE: cannot read ${missing} (ENOENT)\n`);
    const typo = await runOps(['migrate'], { DATABSE_URL: 'postgres://u:s3cret-pw@127.0.0.1:1/app' });
    expect(typo.code, typo.output).toBe(2);
    expect(typo.stderr).toContain('DATABSE_URL is set but DATABASE_URL is not: did you mean DATABASE_URL?');
    expect(typo.output).not.toContain('s3cret-pw');
  });

  it('migrate, which logs, refuses a bad LOG_LEVEL by name (exit 2, nothing attempted)', async () => {
    const r = await runOps(['migrate'], { DATABASE_URL: 'postgres://u@127.0.0.1:1/app', LOG_LEVEL: 'loud' });
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toBe('db:migrate: invalid configuration:\n  - LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"\n');
  });
});

describe('cc-ops smoke: VERCEL_AUTOMATION_BYPASS_SECRET', () => {
  it('is sent as x-vercel-protection-bypass on every request when set, and not at all when unset', async () => {
    const seen: (string | undefined)[] = [];
    const app = createServer((req, res) => {
      seen.push(req.headers['x-vercel-protection-bypass'] as string | undefined);
      if (req.url === '/api/health') res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    try {
      const withSecret = await runOps(['smoke', '--url', url], { VERCEL_AUTOMATION_BYPASS_SECRET: 'bypass-0123456789', ...BROKEN_EXPORTER_SETTINGS });
      expect(withSecret.code, withSecret.output).toBe(0);
      expect(seen).toEqual(['bypass-0123456789', 'bypass-0123456789', 'bypass-0123456789']);
      expect(withSecret.output).not.toContain('bypass-0123456789');
      seen.length = 0;
      const without = await runOps(['smoke', '--url', url]);
      expect(without.code, without.output).toBe(0);
      expect(seen).toEqual([undefined, undefined, undefined]);
    } finally {
      await new Promise<void>((resolve) => app.close(() => resolve()));
    }
  });
});

describe.skipIf(server.skip !== undefined)(`cc-ops settings: an environment the exporter refuses [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let root: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    root = mkdtempSync(join(tmpdir(), 'cc-ops-settings-'));
    // LOG_LEVEL is migrate's alone: backup, restore and alerts do not log.
    env = { DATABASE_URL: db.connectionString, BACKUP_DIR: root, ...BROKEN_EXPORTER_SETTINGS, LOG_LEVEL: 'loud' };
  });
  afterAll(async () => {
    await db?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('backup, restore --dry-run and alerts list work with a valid DATABASE_URL beside it', async () => {
    const backup = await runOps(['backup', '--name', 'broken-env'], env);
    expect(backup.code, backup.output).toBe(0);
    expect(backup.stdout).toMatch(/^backup broken-env: 12 tables, /);
    expect(existsSync(join(root, 'broken-env', 'manifest.json'))).toBe(true);

    const restore = await runOps(['restore', 'broken-env', '--dry-run'], env);
    expect(restore.code, restore.output).toBe(0);
    expect(restore.stdout).toMatch(/^restore broken-env --dry-run: checks passed/);

    const alerts = await runOps(['alerts', 'list'], env);
    expect(alerts.code, alerts.output).toBe(0);
    expect(alerts.stdout).toBe('alerts: no firing alert on record\n');
  });

  it('migrate works with a valid DATABASE_URL beside it', async () => {
    const { LOG_LEVEL: _, ...withoutLogLevel } = env;
    const dryRun = await runOps(['migrate', '--dry-run'], withoutLogLevel);
    expect(dryRun.code, dryRun.output).toBe(0);
    expect(dryRun.stdout).toBe('nothing to apply: the database is up to date\n');
    const migrate = await runOps(['migrate'], { ...withoutLogLevel, LOG_LEVEL: 'warn' });
    expect(migrate.code, migrate.output).toBe(0);
    expect(migrate.stdout).toBe('nothing to apply: the database is up to date\n');
  });
});

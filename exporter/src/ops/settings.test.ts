import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { loadOpsSettings, OPS_DEFAULTS, opsSettingsOrExit, type OpsNeeds } from './settings.js';

const dir = mkdtempSync(join(tmpdir(), 'cc-ops-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(env: Record<string, string>, needs: OpsNeeds): string[] {
  try {
    loadOpsSettings(env, needs);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** Settings the exporter refuses (exit 2 at its start) and warns about: none of them is the ops CLI's. */
const BROKEN_EXPORTER_SETTINGS = {
  EXPORTER_PORT: 'abc',
  EXPORTR_PORT: '1',
  COLLECTORS: 'orders,nope',
  OTLP_SERVER_TOKEN: 'too-short',
  TWILIO_ACCOUNT_SID: 'AC1',
};

describe('ops settings', () => {
  it('has defaults with nothing set, and asks nothing of a command that needs nothing', () => {
    expect(loadOpsSettings({})).toEqual({
      databaseUrl: undefined,
      logLevel: undefined,
      backupDir: 'backups',
      githubActor: undefined,
      user: undefined,
      vercelBypassSecret: undefined,
      stackDir: join(tmpdir(), 'cc-stack'),
      deploy: undefined,
    });
    expect(OPS_DEFAULTS.BACKUP_DIR).toBe('backups');
  });

  it('reads the plain values trimmed, a blank one as unset', () => {
    const settings = loadOpsSettings({
      BACKUP_DIR: ' /srv/backups ',
      GITHUB_ACTOR: 'octocat',
      USER: 'oncall-sam',
      VERCEL_AUTOMATION_BYPASS_SECRET: 'bypass-secret',
      STACK_DIR: '/srv/stack',
    });
    expect(settings).toMatchObject({ backupDir: '/srv/backups', githubActor: 'octocat', user: 'oncall-sam', vercelBypassSecret: 'bypass-secret', stackDir: '/srv/stack' });
    const blank = loadOpsSettings({ BACKUP_DIR: '  ', USER: '', STACK_DIR: ' ', GITHUB_ACTOR: '' });
    expect(blank).toMatchObject({ backupDir: 'backups', user: undefined, stackDir: join(tmpdir(), 'cc-stack'), githubActor: undefined });
  });

  it('takes DATABASE_URL whatever else the environment holds: a broken exporter setting is not its business', () => {
    const env = { DATABASE_URL: 'postgres://backup:pw@db.example.com:5432/app', LOG_LEVEL: 'loud', ...BROKEN_EXPORTER_SETTINGS };
    // The exporter refuses this environment...
    expect(() => loadConfig(env)).toThrow(/EXPORTER_PORT must be a whole number/);
    // ...the database commands do not.
    expect(loadOpsSettings(env, { database: true }).databaseUrl).toBe('postgres://backup:pw@db.example.com:5432/app');
    expect(loadOpsSettings({ DATABASE_URL: ' postgresql://u@h/db ' }, { database: true }).databaseUrl).toBe('postgresql://u@h/db');
  });

  it('refuses a DATABASE_URL that is not a postgres:// URL, with the exporter\'s message and never the password', () => {
    let error: unknown;
    try {
      loadOpsSettings({ DATABASE_URL: 'mysql://backup:hunter2-secret@db.example.com/app' }, { database: true });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(['DATABASE_URL must be a postgres:// or postgresql:// connection string']);
    expect((error as ConfigError).message).not.toContain('hunter2-secret');
    // the exporter says the same
    expect(() => loadConfig({ DATABASE_URL: 'mysql://backup:hunter2-secret@db.example.com/app' })).toThrow('DATABASE_URL must be a postgres:// or postgresql:// connection string');
  });

  it('reads DATABASE_URL_FILE; both set, an unreadable or empty file are problems naming the variable', () => {
    const file = join(dir, 'database-url');
    writeFileSync(file, 'postgres://backup:from-file@db.example.com/app\n');
    writeFileSync(join(dir, 'empty'), '');
    expect(loadOpsSettings({ DATABASE_URL_FILE: file }, { database: true }).databaseUrl).toBe('postgres://backup:from-file@db.example.com/app');
    expect(problemsOf({ DATABASE_URL_FILE: file, DATABASE_URL: 'postgres://x@h/db' }, { database: true })).toEqual(['DATABASE_URL and DATABASE_URL_FILE are both set; set one']);
    expect(problemsOf({ DATABASE_URL_FILE: join(dir, 'missing') }, { database: true })).toEqual([`DATABASE_URL_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`]);
    expect(problemsOf({ DATABASE_URL_FILE: join(dir, 'empty') }, { database: true })).toEqual([`DATABASE_URL_FILE: ${join(dir, 'empty')} is empty`]);
  });

  it('leaves DATABASE_URL alone in a command that does not use it (unset, its absence is the command\'s to say)', () => {
    expect(loadOpsSettings({ DATABASE_URL: 'not a url' }).databaseUrl).toBeUndefined();
    expect(loadOpsSettings({}, { database: true }).databaseUrl).toBeUndefined();
  });

  it('names a near miss of DATABASE_URL while DATABASE_URL is unset, as the exporter does', () => {
    expect(problemsOf({ DATABSE_URL: 'postgres://x@h/db' }, { database: true })).toEqual(['DATABSE_URL is set but DATABASE_URL is not: did you mean DATABASE_URL?']);
    expect(problemsOf({ DATABASE_URL_FLE: '/run/secrets/db' }, { database: true })).toEqual(['DATABASE_URL_FLE is set but DATABASE_URL is not: did you mean DATABASE_URL_FILE?']);
    // set, the near miss is not in the way; unrelated near misses are no concern of ops
    expect(problemsOf({ DATABSE_URL: 'x', DATABASE_URL: 'postgres://x@h/db' }, { database: true })).toEqual([]);
    expect(problemsOf({ DATABSE_URL: 'x' }, {})).toEqual([]);
  });

  it('checks LOG_LEVEL only for a command that logs', () => {
    expect(loadOpsSettings({ LOG_LEVEL: ' debug ' }, { logLevel: true }).logLevel).toBe('debug');
    expect(loadOpsSettings({}, { logLevel: true }).logLevel).toBeUndefined();
    expect(problemsOf({ LOG_LEVEL: 'loud' }, { logLevel: true })).toEqual(['LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"']);
    expect(loadOpsSettings({ LOG_LEVEL: 'loud' }, { database: true }).logLevel).toBeUndefined();
  });

  it('includes the deploy settings a deploy command asks for, their problems listed with the others', () => {
    const settings = loadOpsSettings({ DATABASE_URL: 'postgres://d@h/db', GITHUB_ACTOR: 'octocat', GRAFANA_URL: 'https://grafana.example.com/', GRAFANA_TOKEN: 'glsa_x' }, { deploy: { database: true } });
    expect(settings.deploy).toMatchObject({ databaseUrl: 'postgres://d@h/db', grafana: { url: 'https://grafana.example.com', token: 'glsa_x' }, httpTimeoutMs: 10_000 });
    expect(settings.githubActor).toBe('octocat');
    expect(problemsOf({ LOG_LEVEL: 'loud', OPS_HTTP_TIMEOUT_MS: '5' }, { logLevel: true, deploy: { database: true } })).toEqual([
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'DATABASE_URL (or DATABASE_URL_FILE) is not set: it names the database that holds deployment_log',
      'OPS_HTTP_TIMEOUT_MS must be a whole number from 100 to 300000, got "5"',
    ]);
    // DATABASE_URL read by both parts: its problem once
    expect(problemsOf({ DATABASE_URL: 'postgres://x@h/db', DATABASE_URL_FILE: '/x' }, { database: true, deploy: {} })).toEqual(['DATABASE_URL and DATABASE_URL_FILE are both set; set one']);
  });
});

describe('opsSettingsOrExit', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('reads this process\'s environment; a problem is said on stderr with the command and is exit 2', () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    vi.stubEnv('DATABASE_URL_FILE', '');
    vi.stubEnv('DATABASE_URL', 'mysql://backup:hunter2-secret@db.example.com/app');
    vi.stubEnv('EXPORTER_PORT', 'abc');
    vi.stubEnv('BACKUP_DIR', '/srv/backups');
    expect(opsSettingsOrExit('backup', { database: true })).toBe(2);
    expect(errors).toEqual(['backup: invalid configuration:\n  - DATABASE_URL must be a postgres:// or postgresql:// connection string']);

    vi.stubEnv('DATABASE_URL', 'postgres://backup:hunter2-secret@db.example.com/app');
    expect(opsSettingsOrExit('backup', { database: true })).toMatchObject({ databaseUrl: 'postgres://backup:hunter2-secret@db.example.com/app', backupDir: '/srv/backups' });
    expect(errors).toHaveLength(1);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactUrl } from './config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config', () => {
  it('has working defaults with nothing set (embedded database)', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.port).toBe(9464);
    expect(config.host).toBe('0.0.0.0');
    expect(config.collectors).toEqual(['orders', 'deployments', 'database', 'events', 'backups', 'maintenance']);
    expect(config.orders.stuckThresholds).toEqual({ pending: 2700, confirmed: 2700, preparing: 2700, ready: 2700 });
    expect(config.database.sizeLimitBytes).toBe(500_000_000);
    expect(config.auth).toEqual({ kind: 'none' });
    expect(config.db).toEqual({
      poolMax: 3,
      statementTimeoutMs: 5000,
      lockTimeoutMs: 1000,
      connectTimeoutMs: 3000,
      applicationName: 'cc-exporter',
    });
    expect(config.embedded).toEqual({ dataDir: undefined, simulator: true, simulatorIntervalMs: 2000 });
    expect(config.instance).toBe(hostname());
  });

  it('names the exporter EXPORTER_INSTANCE, at most 64 characters', () => {
    expect(loadConfig({ EXPORTER_INSTANCE: 'exporter-0' }).instance).toBe('exporter-0');
    expect(problemsOf({ EXPORTER_INSTANCE: 'x'.repeat(65) })).toEqual(['EXPORTER_INSTANCE must be at most 64 characters, got 65']);
  });

  it('checkpoints the event counts every minute by default, every scrape with 0s, at most every hour', () => {
    expect(loadConfig({}).events.checkpointIntervalMs).toBe(60_000);
    expect(loadConfig({ EVENTS_CHECKPOINT_INTERVAL: '0s' }).events.checkpointIntervalMs).toBe(0);
    expect(problemsOf({ EVENTS_CHECKPOINT_INTERVAL: '2h' })).toEqual(['EVENTS_CHECKPOINT_INTERVAL must be at most 1h, got "2h"']);
    expect(problemsOf({ EVENTS_CHECKPOINT_INTERVAL: 'soon' })).toEqual(['EVENTS_CHECKPOINT_INTERVAL must be a duration such as 0s, 30m, 2h or 7d, got "soon"']);
  });

  it('reads every setting', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://cc_exporter:pw@db:5432/app',
      EXPORTER_PORT: '9999',
      COLLECTORS: 'orders, database',
      STUCK_ORDER_THRESHOLDS: 'preparing=45m,ready=2h,confirmed=90s',
      DB_SIZE_LIMIT_BYTES: '8GiB',
      METRICS_BASIC_AUTH_USERNAME: 'prom',
      METRICS_BASIC_AUTH_PASSWORD: 'secret',
      EMBEDDED_SIMULATOR: 'off',
      LOG_LEVEL: 'debug',
    });
    expect(config.databaseUrl).toBe('postgres://cc_exporter:pw@db:5432/app');
    expect(config.port).toBe(9999);
    expect(config.collectors).toEqual(['orders', 'database']);
    expect(config.orders.stuckThresholds).toEqual({ preparing: 2700, ready: 7200, confirmed: 90 });
    expect(config.database.sizeLimitBytes).toBe(8 * 2 ** 30);
    expect(config.auth).toEqual({ kind: 'basic', username: 'prom', password: 'secret' });
    expect(config.embedded.simulator).toBe(false);
    expect(config.logLevel).toBe('debug');
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      DATABASE_URL: 'mysql://x',
      EXPORTER_PORT: '99999',
      COLLECTORS: 'orders,bogus',
      STUCK_ORDER_THRESHOLDS: 'preparing=30',
      DB_SIZE_LIMIT_BYTES: 'lots',
      LOG_LEVEL: 'loud',
      DB_POOL_MAX: '0',
      EMBEDDED_SIMULATOR: 'maybe',
      METRICS_BASIC_AUTH_USERNAME: 'prom',
    });
    expect(problems).toHaveLength(9);
    expect(problems.join('\n')).toMatch(/DATABASE_URL must be a postgres/);
    expect(problems.join('\n')).toMatch(/EXPORTER_PORT must be a whole number from 0 to 65535, got "99999"/);
    expect(problems.join('\n')).toMatch(/unknown collector "bogus" \(known: orders, deployments, database, events, backups, maintenance\)/);
    expect(problems.join('\n')).toMatch(/STUCK_ORDER_THRESHOLDS: "preparing=30"/);
    expect(problems.join('\n')).toMatch(/DB_SIZE_LIMIT_BYTES/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL/);
    expect(problems.join('\n')).toMatch(/DB_POOL_MAX/);
    expect(problems.join('\n')).toMatch(/EMBEDDED_SIMULATOR/);
    expect(problems.join('\n')).toMatch(/METRICS_BASIC_AUTH_USERNAME and METRICS_BASIC_AUTH_PASSWORD go together/);
  });

  it('reads secrets from files and refuses both forms at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-config-'));
    writeFileSync(join(dir, 'url'), 'postgres://u:p@h/db\n');
    writeFileSync(join(dir, 'token'), '  s3cret \n');
    const config = loadConfig({ DATABASE_URL_FILE: join(dir, 'url'), METRICS_AUTH_TOKEN_FILE: join(dir, 'token') });
    expect(config.databaseUrl).toBe('postgres://u:p@h/db');
    expect(config.auth).toEqual({ kind: 'bearer', token: 's3cret' });

    expect(problemsOf({ DATABASE_URL: 'postgres://a', DATABASE_URL_FILE: join(dir, 'url') })).toEqual([
      'DATABASE_URL and DATABASE_URL_FILE are both set; set one',
    ]);
    expect(problemsOf({ METRICS_AUTH_TOKEN_FILE: join(dir, 'missing') })).toEqual([
      `METRICS_AUTH_TOKEN_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`,
    ]);
    expect(problemsOf({ METRICS_AUTH_TOKEN: 't', METRICS_BASIC_AUTH_USERNAME: 'u', METRICS_BASIC_AUTH_PASSWORD: 'p' })).toEqual([
      'set either METRICS_AUTH_TOKEN or METRICS_BASIC_AUTH_USERNAME/PASSWORD, not both',
    ]);
  });

  it('never shows a password in a problem or a redacted URL', () => {
    const problems = problemsOf({ DATABASE_URL: 'mysql://user:hunter2@h/db' });
    expect(problems.join('\n')).not.toContain('hunter2');
    expect(redactUrl('postgres://user:hunter2@h:5432/db')).toBe('postgres://user:***@h:5432/db');
  });
});

describe('config: Alertmanager webhooks and the SMS bridge', () => {
  const sid = `AC${'ab'.repeat(16)}`;

  it('leaves the webhooks off by default', () => {
    expect(loadConfig({}).hooks).toEqual({ token: undefined, sms: undefined });
  });

  it('reads the token and every Twilio setting, from the environment or files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-config-hooks-'));
    const file = (name: string, value: string) => {
      writeFileSync(join(dir, name), value);
      return join(dir, name);
    };
    const config = loadConfig({
      HOOKS_AUTH_TOKEN_FILE: file('token', 'hook-secret\n'),
      TWILIO_ACCOUNT_SID: sid,
      TWILIO_AUTH_TOKEN_FILE: file('twilio', 'twilio-secret'),
      TWILIO_FROM_NUMBER: '+15005550006',
      ALERT_SMS_NUMBERS_FILE: file('numbers', '+15005550001, +447700900123'),
      TWILIO_API_BASE_URL: 'http://127.0.0.1:8080/',
    });
    expect(config.hooks).toEqual({
      token: 'hook-secret',
      sms: { accountSid: sid, authToken: 'twilio-secret', from: '+15005550006', to: ['+15005550001', '+447700900123'], apiBaseUrl: 'http://127.0.0.1:8080', cooldownMs: 900_000 },
      heartbeatUrl: undefined,
      ackToken: undefined,
    });
    expect(loadConfig({ HOOKS_AUTH_TOKEN: 't', TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: 'x', TWILIO_FROM_NUMBER: '+15005550006', ALERT_SMS_NUMBERS: '+15005550001' }).hooks.sms?.apiBaseUrl).toBe('https://api.twilio.com');
  });

  it('reads the SMS cooldown, the dead man\'s switch and the acknowledgement token, and says what is wrong with them without showing them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-config-hooks-'));
    const file = (name: string, value: string) => {
      writeFileSync(join(dir, name), value);
      return join(dir, name);
    };
    const config = loadConfig({ HOOKS_AUTH_TOKEN: 't', SMS_COOLDOWN: '30m', HEARTBEAT_URL_FILE: file('hb', 'https://hc-ping.com/0b8f\n'), ACK_AUTH_TOKEN: 'a'.repeat(16), TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: 'x', TWILIO_FROM_NUMBER: '+15005550006', ALERT_SMS_NUMBERS: '+15005550001' });
    expect(config.hooks).toMatchObject({ heartbeatUrl: 'https://hc-ping.com/0b8f', ackToken: 'a'.repeat(16), sms: { cooldownMs: 1_800_000 } });
    const problems = problemsOf({ SMS_COOLDOWN: 'soon', HEARTBEAT_URL: 'hc-ping.com/secret-uuid', ACK_AUTH_TOKEN: 'short' });
    expect(problems).toEqual(expect.arrayContaining([
      'SMS_COOLDOWN must be a duration such as 0s, 30m, 2h or 7d, got "soon"',
      "HEARTBEAT_URL must be an http(s) URL (a dead man's switch such as https://hc-ping.com/<uuid>)",
      'HEARTBEAT_URL is set but HOOKS_AUTH_TOKEN is not: set it, or /hooks/heartbeat stays off',
      'ACK_AUTH_TOKEN must be at least 16 characters (it lets anyone who has it hold back pages)',
    ]));
    expect(problems.join('\n')).not.toContain('secret-uuid');
  });

  it('reads SERVICE_NAMES: the known services, web-otel\'s and edge/\'s defaults unless set; refuses one that cannot be a label', () => {
    expect(loadConfig({}).events.serviceNames).toEqual(['web', 'edge-functions']);
    expect(loadConfig({ SERVICE_NAMES: 'shop-web, shop-edge' }).events.serviceNames).toEqual(['shop-web', 'shop-edge']);
    expect(problemsOf({ SERVICE_NAMES: 'shop web' })).toEqual(['SERVICE_NAMES: "shop web" must be a service.name of at most 120 printable characters']);
  });

  it('reads SERIES_BUDGETS over the defaults, names an unknown family, and warns about the replaced LABEL_VALUE_LIMIT', () => {
    const config = loadConfig({ SERIES_BUDGETS: 'cc_page_views_total=400, cc_web_vital_cls=5', SERIES_IDLE_EVICTION: '30m' });
    expect(config.events.seriesBudgets).toMatchObject({ cc_page_views_total: 400, cc_web_vital_cls: 5, cc_api_request_duration_seconds: 100 });
    expect(config.events.seriesIdleMs).toBe(1_800_000);
    expect(config.warnings).toEqual([]);
    const problems = problemsOf({ SERIES_BUDGETS: 'cc_pages_total=5,cc_page_views_total=0,cc_user_actions_total', SERIES_IDLE_EVICTION: 'soon' });
    expect(problems[0]).toMatch(/^SERIES_BUDGETS: cc_pages_total has no series budget; one of cc_events_total, .*cc_page_views_total/);
    expect(problems.slice(1)).toEqual([
      'SERIES_BUDGETS: cc_page_views_total must be from 1 to 100000, got 0',
      'SERIES_BUDGETS: "cc_user_actions_total" is not family=count (e.g. cc_page_views_total=300)',
      'SERIES_IDLE_EVICTION must be a duration such as 0s, 30m, 2h or 7d, got "soon"',
    ]);
    expect(loadConfig({ LABEL_VALUE_LIMIT: '50' }).warnings).toEqual([expect.stringContaining('LABEL_VALUE_LIMIT is no longer read')]);
  });

  it('reads OTLP_SERVER_TOKEN from the environment or a file, at least 32 characters, never echoed', () => {
    expect(loadConfig({}).otlp.serverToken).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'cc-config-token-'));
    writeFileSync(join(dir, 'token'), `${'k'.repeat(40)}\n`);
    expect(loadConfig({ OTLP_SERVER_TOKEN_FILE: join(dir, 'token') }).otlp.serverToken).toBe('k'.repeat(40));
    const problems = problemsOf({ OTLP_SERVER_TOKEN: 'short-secret-value' });
    expect(problems).toEqual(['OTLP_SERVER_TOKEN must be at least 32 characters (it lets its holder write rows that page on-call); try: openssl rand -hex 32']);
    expect(problems.join('\n')).not.toContain('short-secret-value');
  });

  it('reads TRUST_PROXY as a hop count or a list of addresses, CIDRs and named sets, and names a bad entry', () => {
    expect(loadConfig({}).otlp.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).otlp.trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8, 192.0.2.1' }).otlp.trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.0.2.1']);
    expect(problemsOf({ TRUST_PROXY: '10.0.0.0/33, proxy.example, 11' })).toEqual([
      'TRUST_PROXY: "10.0.0.0/33" is not a hop count, an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal',
      'TRUST_PROXY: "proxy.example" is not a hop count, an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal',
      'TRUST_PROXY: "11" is not a hop count, an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal',
    ]);
    expect(problemsOf({ TRUST_PROXY: '11' })).toEqual(['TRUST_PROXY must be at most 10 hops, got 11']);
  });

  it('lists every webhook problem at once', () => {
    expect(problemsOf({ TWILIO_ACCOUNT_SID: sid, TWILIO_FROM_NUMBER: '+15005550006' })).toEqual([
      'the SMS bridge needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER and ALERT_SMS_NUMBERS together; missing TWILIO_AUTH_TOKEN, ALERT_SMS_NUMBERS',
    ]);
    expect(problemsOf({
      TWILIO_ACCOUNT_SID: 'nope', TWILIO_AUTH_TOKEN: 'x', TWILIO_FROM_NUMBER: '5550006', ALERT_SMS_NUMBERS: '+15005550001,0800', TWILIO_API_BASE_URL: 'ftp://x',
    })).toEqual([
      'TWILIO_API_BASE_URL must be an http(s) URL such as https://api.twilio.com, got "ftp://x"',
      'TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits',
      'TWILIO_FROM_NUMBER must be an E.164 number such as +15005550006, got "5550006"',
      'ALERT_SMS_NUMBERS: "0800" is not an E.164 number such as +15005550006',
      'the SMS bridge is configured but HOOKS_AUTH_TOKEN is not: set it, or /hooks/sms stays off',
    ]);
  });
});

describe('config: maintenance scheduler', () => {
  it('defaults to auto every 15 minutes with the reference thresholds, and reads every setting', () => {
    expect(loadConfig({}).maintenance).toEqual({ scheduler: 'auto', intervalSeconds: 900, autoHealMinutes: { preparing: 45, ready: 120 } });
    expect(loadConfig({ MAINTENANCE_SCHEDULER: 'OFF', MAINTENANCE_INTERVAL: '5m', AUTO_HEAL_THRESHOLDS: 'ready=90m' }).maintenance).toEqual({
      scheduler: 'off',
      intervalSeconds: 300,
      autoHealMinutes: { preparing: 45, ready: 90 },
    });
  });

  it('lists every maintenance problem at once', () => {
    const problems = problemsOf({ MAINTENANCE_SCHEDULER: 'sometimes', MAINTENANCE_INTERVAL: '30s', AUTO_HEAL_THRESHOLDS: 'pending=10m,preparing=90s,ready' });
    expect(problems).toEqual([
      'MAINTENANCE_SCHEDULER must be auto, on or off, got "sometimes"',
      'MAINTENANCE_INTERVAL must be at least 1m, got "30s"',
      'AUTO_HEAL_THRESHOLDS: "ready" is not status=<number><s|m|h>, e.g. preparing=30m',
      'AUTO_HEAL_THRESHOLDS: auto-heal moves on preparing and ready orders only, not "pending"',
      'AUTO_HEAL_THRESHOLDS: preparing must be whole minutes (at least 1m), got 90s',
    ]);
  });
});

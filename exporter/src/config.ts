// The exporter's configuration: read once from the environment, validated at the edge, every
// problem reported at once. Secrets may come from files (VAR_FILE) so they stay out of the
// environment listing and out of the repo.
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { DEFAULT_SERVICE_NAMES, SERIES_BUDGET_DEFAULTS } from './collectors/events.js';
import { collectorNames } from './collectors/index.js';
import { nonEmpty, readSecret, type Env } from './env.js';
import { compileRoutePatterns, type RoutePattern } from './text.js';

export interface Config {
  /** Postgres connection string; undefined means the embedded database. */
  databaseUrl: string | undefined;
  /** EXPORTER_REVISION: the source revision, shown in cc_exporter_build_info (default: the git checkout's commit) */
  revision: string | undefined;
  /** this exporter's name in logs and in the event counts it commits (EXPORTER_INSTANCE, default the host name) */
  instance: string;
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  db: {
    poolMax: number;
    statementTimeoutMs: number;
    lockTimeoutMs: number;
    connectTimeoutMs: number;
    applicationName: string;
  };
  collectors: string[];
  orders: {
    /** status -> seconds in that status after which an active order counts as stuck */
    stuckThresholds: Record<string, number>;
  };
  database: {
    /** the plan's database size limit in bytes; 0 leaves cc_db_size_limit_bytes out */
    sizeLimitBytes: number;
  };
  auth:
    | { kind: 'none' }
    | { kind: 'bearer'; token: string }
    | { kind: 'basic'; username: string; password: string };
  events: {
    /** rows read per query */
    batchSize: number;
    /** batches read per scrape at most; the rest waits for the next scrape */
    maxBatchesPerScrape: number;
    /** ms between two commits of the event cursor and counts; a restart recounts the rows since the last */
    checkpointIntervalMs: number;
    /** the first start on a database also counts events of this many seconds back; 0 starts at the end of the table */
    lookbackSeconds: number;
    /** series per metric family fed by rows: SERIES_BUDGET_DEFAULTS with SERIES_BUDGETS over them */
    seriesBudgets: Record<string, number>;
    /** ms (of row time) after which an unknown series may give its place to a new one (SERIES_IDLE_EVICTION) */
    seriesIdleMs: number;
    /** route templates tried before automatic id collapsing, e.g. /menu/:category; compiled here, once, for the collectors and the receiver */
    routePatterns: RoutePattern[];
    /** SERVICE_NAMES: the service.name of the app's browser and edge telemetry (known values of the service label) */
    serviceNames: string[];
  };
  otlp: {
    /** request body limit in bytes (compressed and decompressed alike) */
    maxBodyBytes: number;
    /** spans accepted per request; more is a 400 */
    maxSpansPerRequest: number;
    /** longest attribute string kept; longer values are truncated */
    maxAttributeLength: number;
    /** origins allowed to POST cross-origin; empty means same-origin only */
    corsAllowedOrigins: string[];
    /** requests per client (IP) per minute; 0 disables the limit */
    rateLimitPerMinute: number;
    /**
     * which peers are proxies whose X-Forwarded-For names the client (express's "trust proxy"):
     * false = none (the peer is the client), a hop count, or addresses / CIDRs / loopback,
     * linklocal, uniquelocal
     */
    trustProxy: false | number | string[];
    /** OTLP_PORT: /v1/traces alone on its own listener (public), everything else on port; undefined: one port */
    port: number | undefined;
    /** minutes a request body's digest is kept, so a client's replay is not stored twice; 0 turns this off */
    dedupeWindowMinutes: number;
    /**
     * OTLP_SERVER_TOKEN: a request with this bearer token comes from a trusted server (edge
     * functions) and may produce server-only rows (edge_function, payment_failure); undefined:
     * no request may
     */
    serverToken: string | undefined;
  };
  hooks: {
    /** bearer token Alertmanager sends to /hooks/*; undefined turns the webhooks off (404) */
    token: string | undefined;
    /** the Twilio SMS bridge behind /hooks/sms; undefined turns it off (404) */
    sms: SmsConfig | undefined;
    /** the dead man's switch /hooks/heartbeat pings for each Watchdog notification (a secret URL) */
    heartbeatUrl: string | undefined;
    /** the secret of /alerts/ack (bearer, or basic with any user name as who acknowledges); undefined: 404 */
    ackToken: string | undefined;
  };
  /** alert_history reconciled with Alertmanager's GET /api/v2/alerts */
  reconcile: {
    /** every Alertmanager of the cluster (ALERTMANAGER_URL, comma-separated); empty: off */
    urls: string[];
    intervalMs: number;
    graceMs: number;
  };
  maintenance: {
    /** run run_system_maintenance() from this exporter: auto = unless pg_cron runs it */
    scheduler: 'auto' | 'on' | 'off';
    /** seconds between runs */
    intervalSeconds: number;
    /** minutes in preparing / ready after which auto-heal moves an order on */
    autoHealMinutes: { preparing: number; ready: number };
  };
  embedded: {
    /** PGlite data directory; undefined keeps the embedded database in memory */
    dataDir: string | undefined;
    simulator: boolean;
    simulatorIntervalMs: number;
  };
  shutdownTimeoutMs: number;
  /** settings that were accepted but deserve a word at start (a replaced variable) */
  warnings: string[];
}

export interface SmsConfig {
  accountSid: string;
  authToken: string;
  /** E.164 sender number */
  from: string;
  /** E.164 numbers that receive every SMS */
  to: string[];
  /** Twilio's REST API base URL; tests point it at a local fake */
  apiBaseUrl: string;
  /** ms: at most one FIRING page per alert group in this window; an acknowledgement holds repeats back this long */
  cooldownMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type { Env };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_LEVEL's problem when `level` is not one of LOG_LEVELS, else undefined. */
export function logLevelProblem(level: string): string | undefined {
  return (LOG_LEVELS as readonly string[]).includes(level) ? undefined : `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`;
}

/**
 * DATABASE_URL, or the file DATABASE_URL_FILE names: a postgres:// or postgresql:// connection
 * string, undefined when neither is set. A problem otherwise, never showing the value (it holds
 * the password). Shared with the ops CLI (ops/settings.ts).
 */
export function readDatabaseUrl(env: Env, problems: string[]): string | undefined {
  const databaseUrl = readSecret(env, 'DATABASE_URL', problems);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// connection string');
  }
  return databaseUrl;
}

/** The documented defaults; the table of docs/configuration.md lists the same values. */
export const DEFAULTS = {
  EXPORTER_HOST: '0.0.0.0',
  EXPORTER_PORT: '9464',
  EXPORTER_REVISION: '',
  LOG_LEVEL: 'info',
  DB_POOL_MAX: '3',
  DB_STATEMENT_TIMEOUT_MS: '5000',
  DB_LOCK_TIMEOUT_MS: '1000',
  DB_CONNECT_TIMEOUT_MS: '3000',
  DB_APPLICATION_NAME: 'cc-exporter',
  STUCK_ORDER_THRESHOLDS: 'pending=45m,confirmed=45m,preparing=45m,ready=45m',
  DB_SIZE_LIMIT_BYTES: '500MB',
  EVENTS_BATCH_SIZE: '5000',
  EVENTS_MAX_BATCHES_PER_SCRAPE: '20',
  EVENTS_LOOKBACK: '0s',
  EVENTS_CHECKPOINT_INTERVAL: '1m',
  SERIES_BUDGETS: '',
  SERIES_IDLE_EVICTION: '1h',
  ROUTE_PATTERNS: '',
  SERVICE_NAMES: DEFAULT_SERVICE_NAMES.join(','),
  OTLP_MAX_BODY_BYTES: '1000000',
  OTLP_MAX_SPANS_PER_REQUEST: '1000',
  OTLP_MAX_ATTRIBUTE_LENGTH: '4096',
  OTLP_CORS_ALLOWED_ORIGINS: '',
  OTLP_RATE_LIMIT_PER_MINUTE: '600',
  TRUST_PROXY: '',
  OTLP_PORT: '',
  OTLP_DEDUPE_WINDOW_MINUTES: '60',
  TWILIO_API_BASE_URL: 'https://api.twilio.com',
  SMS_COOLDOWN: '15m',
  ALERTMANAGER_URL: '',
  ALERTMANAGER_RECONCILE_INTERVAL: '30s',
  ALERTMANAGER_RECONCILE_GRACE: '3m',
  EMBEDDED_SIMULATOR: 'true',
  EMBEDDED_SIMULATOR_INTERVAL_MS: '2000',
  SHUTDOWN_TIMEOUT_MS: '10000',
  MAINTENANCE_SCHEDULER: 'auto',
  MAINTENANCE_INTERVAL: '15m',
  AUTO_HEAL_THRESHOLDS: 'preparing=45m,ready=2h',
} as const;

export function loadConfig(given: Env): Config {
  const problems: string[] = [];
  // Every name this function reads, to tell a typo or a stale setting from a real one.
  const read = new Set<string>(Object.keys(DEFAULTS));
  const env: Env = new Proxy(given, {
    get: (target, name) => {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  const get = (name: keyof typeof DEFAULTS): string => nonEmpty(env[name]) ?? DEFAULTS[name];

  const secret = (name: string): string | undefined => readSecret(env, name, problems);

  const int = (name: keyof typeof DEFAULTS, min: number, max: number): number => {
    const raw = get(name);
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return Number(DEFAULTS[name]);
    }
    return value;
  };

  const bool = (name: keyof typeof DEFAULTS): boolean => {
    const raw = get(name).toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(raw)) return true;
    if (['false', '0', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return DEFAULTS[name] === 'true';
  };

  const databaseUrl = readDatabaseUrl(env, problems);

  const serverToken = secret('OTLP_SERVER_TOKEN');
  if (serverToken !== undefined && serverToken.length < 32) {
    problems.push('OTLP_SERVER_TOKEN must be at least 32 characters (it lets its holder write rows that page on-call); try: openssl rand -hex 32');
  }

  const logLevel = get('LOG_LEVEL');
  const logLevelError = logLevelProblem(logLevel);
  if (logLevelError !== undefined) problems.push(logLevelError);

  const collectors = parseList(nonEmpty(env.COLLECTORS) ?? collectorNames.join(','));
  for (const name of collectors) {
    if (!collectorNames.includes(name)) {
      problems.push(`COLLECTORS: unknown collector "${name}" (known: ${collectorNames.join(', ')})`);
    }
  }

  const stuckThresholds = parseThresholds(get('STUCK_ORDER_THRESHOLDS'), problems);
  const lookback = parseDuration('EVENTS_LOOKBACK', get('EVENTS_LOOKBACK'), problems);
  const checkpointSeconds = parseDuration('EVENTS_CHECKPOINT_INTERVAL', get('EVENTS_CHECKPOINT_INTERVAL'), problems);
  if (checkpointSeconds > 3600) problems.push(`EVENTS_CHECKPOINT_INTERVAL must be at most 1h, got "${get('EVENTS_CHECKPOINT_INTERVAL')}"`);
  const routePatterns = parseList(get('ROUTE_PATTERNS'));
  for (const pattern of routePatterns) {
    if (!pattern.startsWith('/')) problems.push(`ROUTE_PATTERNS: "${pattern}" must start with /`);
  }
  const serviceNames = parseList(get('SERVICE_NAMES'));
  for (const name of serviceNames) {
    if (name.length > 120 || /[^\x21-\x7e]/.test(name)) problems.push(`SERVICE_NAMES: "${name.slice(0, 40)}" must be a service.name of at most 120 printable characters`);
  }
  const corsAllowedOrigins = parseList(get('OTLP_CORS_ALLOWED_ORIGINS'));
  for (const origin of corsAllowedOrigins) {
    if (!/^https?:\/\/[^/]+$/.test(origin)) {
      problems.push(`OTLP_CORS_ALLOWED_ORIGINS: "${origin}" is not an origin such as https://shop.example.com`);
    }
  }
  const sizeLimitBytes = parseBytes(get('DB_SIZE_LIMIT_BYTES'), problems);
  const maintenance = parseMaintenance(get('MAINTENANCE_SCHEDULER'), get('MAINTENANCE_INTERVAL'), get('AUTO_HEAL_THRESHOLDS'), problems);

  const token = secret('METRICS_AUTH_TOKEN');
  const username = nonEmpty(env.METRICS_BASIC_AUTH_USERNAME);
  const password = secret('METRICS_BASIC_AUTH_PASSWORD');
  let auth: Config['auth'] = { kind: 'none' };
  if (token !== undefined && (username !== undefined || password !== undefined)) {
    problems.push('set either METRICS_AUTH_TOKEN or METRICS_BASIC_AUTH_USERNAME/PASSWORD, not both');
  } else if (token !== undefined) {
    auth = { kind: 'bearer', token };
  } else if (username !== undefined && password !== undefined) {
    auth = { kind: 'basic', username, password };
  } else if (username !== undefined || password !== undefined) {
    problems.push('METRICS_BASIC_AUTH_USERNAME and METRICS_BASIC_AUTH_PASSWORD go together; one is missing');
  }

  const alertmanagerUrls = parseList(get('ALERTMANAGER_URL')).map((u) => u.replace(/\/+$/, ''));
  for (const url of alertmanagerUrls) {
    if (!HTTP_URL.test(url)) problems.push(`ALERTMANAGER_URL: "${url}" is not an http(s) URL such as http://alertmanager:9093`);
  }
  const reconcileInterval = parseDuration('ALERTMANAGER_RECONCILE_INTERVAL', get('ALERTMANAGER_RECONCILE_INTERVAL'), problems);
  if (reconcileInterval < 1 && problems.every((p) => !p.startsWith('ALERTMANAGER_RECONCILE_INTERVAL'))) problems.push('ALERTMANAGER_RECONCILE_INTERVAL must be at least 1s');
  const reconcileGrace = parseDuration('ALERTMANAGER_RECONCILE_GRACE', get('ALERTMANAGER_RECONCILE_GRACE'), problems);
  const smsCooldownSeconds = parseDuration('SMS_COOLDOWN', get('SMS_COOLDOWN'), problems);
  if (smsCooldownSeconds > 86_400) problems.push(`SMS_COOLDOWN must be at most 24h, got "${get('SMS_COOLDOWN')}"`);
  const hooks = parseHooks(secret, get('TWILIO_API_BASE_URL'), smsCooldownSeconds * 1000, problems);

  const instance = nonEmpty(env.EXPORTER_INSTANCE) ?? hostname();
  if (instance.length > 64) problems.push(`EXPORTER_INSTANCE must be at most 64 characters, got ${instance.length}`);

  const config: Config = {
    databaseUrl,
    instance,
    revision: nonEmpty(env.EXPORTER_REVISION),
    host: get('EXPORTER_HOST'),
    port: int('EXPORTER_PORT', 0, 65535),
    logLevel: logLevel as Config['logLevel'],
    db: {
      poolMax: int('DB_POOL_MAX', 1, 50),
      statementTimeoutMs: int('DB_STATEMENT_TIMEOUT_MS', 100, 600_000),
      lockTimeoutMs: int('DB_LOCK_TIMEOUT_MS', 10, 600_000),
      connectTimeoutMs: int('DB_CONNECT_TIMEOUT_MS', 100, 60_000),
      applicationName: get('DB_APPLICATION_NAME'),
    },
    collectors,
    orders: { stuckThresholds },
    database: { sizeLimitBytes },
    auth,
    events: {
      batchSize: int('EVENTS_BATCH_SIZE', 100, 100_000),
      maxBatchesPerScrape: int('EVENTS_MAX_BATCHES_PER_SCRAPE', 1, 1000),
      checkpointIntervalMs: checkpointSeconds * 1000,
      lookbackSeconds: lookback,
      seriesBudgets: parseSeriesBudgets(get('SERIES_BUDGETS'), problems),
      seriesIdleMs: parseDuration('SERIES_IDLE_EVICTION', get('SERIES_IDLE_EVICTION'), problems) * 1000,
      routePatterns: compileRoutePatterns(routePatterns),
      serviceNames,
    },
    otlp: {
      maxBodyBytes: int('OTLP_MAX_BODY_BYTES', 1024, 100_000_000),
      maxSpansPerRequest: int('OTLP_MAX_SPANS_PER_REQUEST', 1, 100_000),
      maxAttributeLength: int('OTLP_MAX_ATTRIBUTE_LENGTH', 64, 1_000_000),
      corsAllowedOrigins,
      rateLimitPerMinute: int('OTLP_RATE_LIMIT_PER_MINUTE', 0, 1_000_000),
      trustProxy: parseTrustProxy(get('TRUST_PROXY'), problems),
      port: get('OTLP_PORT') === '' ? undefined : int('OTLP_PORT', 1, 65535),
      dedupeWindowMinutes: int('OTLP_DEDUPE_WINDOW_MINUTES', 0, 10_080),
      serverToken,
    },
    hooks,
    reconcile: { urls: alertmanagerUrls, intervalMs: reconcileInterval * 1000, graceMs: reconcileGrace * 1000 },
    maintenance,
    embedded: {
      dataDir: nonEmpty(env.EMBEDDED_DATA_DIR),
      simulator: bool('EMBEDDED_SIMULATOR'),
      simulatorIntervalMs: int('EMBEDDED_SIMULATOR_INTERVAL_MS', 100, 3_600_000),
    },
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 0, 600_000),
    warnings: [],
  };
  if (nonEmpty(env.LABEL_VALUE_LIMIT) !== undefined) {
    config.warnings.push('LABEL_VALUE_LIMIT is no longer read: label values are bounded by a series budget per metric family (SERIES_BUDGETS, docs/metrics.md#label-floods); remove it');
  }

  if (config.otlp.port !== undefined && config.otlp.port === config.port) problems.push(`OTLP_PORT must differ from EXPORTER_PORT (both ${config.port}); leave it unset for one port`);
  checkUnknownSettings(given, read, config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Prefixes of this project's settings: an unknown name with one of them is a setting that does not exist. */
const SETTING_PREFIXES = ['EXPORTER_', 'OTLP_', 'DB_', 'EVENTS_', 'SERIES_', 'SMS_', 'TWILIO_', 'HOOKS_', 'ACK_', 'ALERT_', 'MAINTENANCE_', 'EMBEDDED_', 'STUCK_', 'ROUTE_', 'DATABASE_', 'COLLECTOR'];
/** Read by other parts of the project from the same environment (the ops CLI, the Deno edge library). */
const OTHER_PARTS = new Set(['DATABASE_URL_FILE', 'OPS_HTTP_TIMEOUT_MS', 'LABEL_VALUE_LIMIT']);
/** Names people set expecting them to be read, with what is read instead. */
const CONFUSED: Record<string, string> = {
  PORT: 'the exporter listens on EXPORTER_PORT (default 9464)',
  HOST: 'the exporter binds EXPORTER_HOST (default 0.0.0.0)',
  DB_URL: 'the database is DATABASE_URL',
  POSTGRES_URL: 'the database is DATABASE_URL',
  PG_URL: 'the database is DATABASE_URL',
};

/**
 * A variable close to a setting (a typo) or unknown with one of the project's prefixes is named;
 * one close to DATABASE_URL while DATABASE_URL is unset stops the start: the exporter would
 * otherwise serve invented demo data to a Prometheus that pages on it.
 */
function checkUnknownSettings(env: Env, read: Set<string>, config: Config, problems: string[]): void {
  const known = [...read].filter((n) => /^[A-Z][A-Z0-9_]*$/.test(n));
  for (const name of Object.keys(env)) {
    if (read.has(name) || OTHER_PARTS.has(name) || !/^[A-Z][A-Z0-9_]*$/.test(name) || nonEmpty(env[name]) === undefined) continue;
    if (CONFUSED[name]) {
      config.warnings.push(`${name} is set but not read here: ${CONFUSED[name]}`);
      continue;
    }
    const near = known.filter((k) => editDistance(name, k) <= (k.length >= 8 ? 2 : 1)).sort((a, b) => editDistance(name, a) - editDistance(name, b));
    if (near.length > 0) {
      const wanted = near[0]!;
      if ((wanted === 'DATABASE_URL' || wanted === 'DATABASE_URL_FILE') && config.databaseUrl === undefined) {
        problems.push(`${name} is set but DATABASE_URL is not: did you mean ${wanted}? Without DATABASE_URL the exporter serves invented demo data; fix the name, or unset ${name} to run the demo`);
      } else {
        config.warnings.push(`${name} is not a setting: did you mean ${wanted}? (it is ignored)`);
      }
      continue;
    }
    if (SETTING_PREFIXES.some((p) => name.startsWith(p))) config.warnings.push(`${name} is not a setting of the exporter (it is ignored; docs/configuration.md lists them)`);
  }
}

/** Levenshtein distance with transpositions (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

const E164 = /^\+[1-9]\d{6,14}$/;
/** An http(s) URL with a host (and any path). */
const HTTP_URL = /^https?:\/\/[^/]+(\/.*)?$/;

/** The webhooks' token and the SMS bridge: Twilio's settings go all together or not at all. */
function parseHooks(secret: (name: string) => string | undefined, apiBaseUrl: string, cooldownMs: number, problems: string[]): Config['hooks'] {
  const token = secret('HOOKS_AUTH_TOKEN');
  const heartbeatUrl = secret('HEARTBEAT_URL');
  const ackToken = secret('ACK_AUTH_TOKEN');
  if (ackToken !== undefined && ackToken.length < 16) problems.push('ACK_AUTH_TOKEN must be at least 16 characters (it lets anyone who has it hold back pages)');
  if (heartbeatUrl !== undefined && !HTTP_URL.test(heartbeatUrl)) {
    // the URL is a secret: say what is wrong, never what it is
    problems.push('HEARTBEAT_URL must be an http(s) URL (a dead man\'s switch such as https://hc-ping.com/<uuid>)');
  }
  if (heartbeatUrl !== undefined && token === undefined) problems.push('HEARTBEAT_URL is set but HOOKS_AUTH_TOKEN is not: set it, or /hooks/heartbeat stays off');
  const twilio = {
    TWILIO_ACCOUNT_SID: secret('TWILIO_ACCOUNT_SID'),
    TWILIO_AUTH_TOKEN: secret('TWILIO_AUTH_TOKEN'),
    TWILIO_FROM_NUMBER: secret('TWILIO_FROM_NUMBER'),
    ALERT_SMS_NUMBERS: secret('ALERT_SMS_NUMBERS'),
  };
  const missing = Object.entries(twilio).filter(([, value]) => value === undefined).map(([name]) => name);
  if (!HTTP_URL.test(apiBaseUrl)) {
    problems.push(`TWILIO_API_BASE_URL must be an http(s) URL such as https://api.twilio.com, got "${apiBaseUrl}"`);
  }
  if (missing.length === 4) return { token, sms: undefined, heartbeatUrl, ackToken };
  if (missing.length > 0) {
    problems.push(`the SMS bridge needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER and ALERT_SMS_NUMBERS together; missing ${missing.join(', ')}`);
    return { token, sms: undefined, heartbeatUrl, ackToken };
  }
  const { TWILIO_ACCOUNT_SID: accountSid = '', TWILIO_AUTH_TOKEN: authToken = '', TWILIO_FROM_NUMBER: from = '', ALERT_SMS_NUMBERS: numbers = '' } = twilio;
  if (!/^AC[0-9a-fA-F]{32}$/.test(accountSid)) problems.push('TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits');
  if (!E164.test(from)) problems.push(`TWILIO_FROM_NUMBER must be an E.164 number such as +15005550006, got "${from}"`);
  const to = parseList(numbers);
  for (const number of to) {
    if (!E164.test(number)) problems.push(`ALERT_SMS_NUMBERS: "${number}" is not an E.164 number such as +15005550006`);
  }
  if (token === undefined) problems.push('the SMS bridge is configured but HOOKS_AUTH_TOKEN is not: set it, or /hooks/sms stays off');
  return { token, sms: { accountSid, authToken, from, to, apiBaseUrl: apiBaseUrl.replace(/\/+$/, ''), cooldownMs }, heartbeatUrl, ackToken };
}

function parseList(raw: string): string[] {
  return [...new Set(raw.split(',').map((s) => s.trim()).filter(Boolean))];
}

const PROXY_SETS = ['loopback', 'linklocal', 'uniquelocal'];

/** TRUST_PROXY: empty (no proxy), a hop count, or a list of addresses, CIDRs and named sets. */
function parseTrustProxy(raw: string, problems: string[]): false | number | string[] {
  const value = raw.trim();
  if (value === '' || value === 'false') return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 10) problems.push(`TRUST_PROXY must be at most 10 hops, got ${hops}`);
    return hops === 0 ? false : hops;
  }
  const entries = parseList(value);
  for (const entry of entries) {
    if (PROXY_SETS.includes(entry)) continue;
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const maxPrefix = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= maxPrefix))) {
      problems.push(`TRUST_PROXY: "${entry}" is not a hop count, an IP address, a CIDR (10.0.0.0/8) or one of ${PROXY_SETS.join(', ')}`);
    }
  }
  return entries;
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "30m", "2h", "7d" -> seconds */
function parseDuration(name: string, raw: string, problems: string[]): number {
  const match = /^(\d+)([smhd])$/.exec(raw);
  if (!match) {
    problems.push(`${name} must be a duration such as 0s, 30m, 2h or 7d, got "${raw}"`);
    return 0;
  }
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1);
}

/** "family=n,…" over SERIES_BUDGET_DEFAULTS; a family that has no budget is named with the list. */
function parseSeriesBudgets(raw: string, problems: string[]): Record<string, number> {
  const budgets = { ...SERIES_BUDGET_DEFAULTS };
  for (const entry of parseList(raw)) {
    const match = /^([a-z_]+)=(\d+)$/.exec(entry);
    if (!match) {
      problems.push(`SERIES_BUDGETS: "${entry}" is not family=count (e.g. cc_page_views_total=300)`);
      continue;
    }
    const [, family = '', n = ''] = match;
    if (!(family in SERIES_BUDGET_DEFAULTS)) {
      problems.push(`SERIES_BUDGETS: ${family} has no series budget; one of ${Object.keys(SERIES_BUDGET_DEFAULTS).join(', ')}`);
      continue;
    }
    const count = Number(n);
    if (count < 1 || count > 100_000) problems.push(`SERIES_BUDGETS: ${family} must be from 1 to 100000, got ${n}`);
    else budgets[family] = count;
  }
  return budgets;
}

/** The maintenance scheduler: mode, interval, and the auto-heal thresholds in whole minutes. */
function parseMaintenance(mode: string, interval: string, thresholds: string, problems: string[]): Config['maintenance'] {
  const modes = ['auto', 'on', 'off'] as const;
  const scheduler = modes.find((m) => m === mode.toLowerCase());
  if (!scheduler) problems.push(`MAINTENANCE_SCHEDULER must be auto, on or off, got "${mode}"`);
  const intervalSeconds = parseDuration('MAINTENANCE_INTERVAL', interval, problems);
  if (intervalSeconds < 60 && /^\d+[smhd]$/.test(interval)) problems.push(`MAINTENANCE_INTERVAL must be at least 1m, got "${interval}"`);
  const parsed = parseThresholds(thresholds, problems, 'AUTO_HEAL_THRESHOLDS');
  const autoHealMinutes = { preparing: 45, ready: 120 };
  for (const [status, seconds] of Object.entries(parsed)) {
    if (status !== 'preparing' && status !== 'ready') {
      problems.push(`AUTO_HEAL_THRESHOLDS: auto-heal moves on preparing and ready orders only, not "${status}"`);
    } else if (seconds < 60 || seconds % 60 !== 0) {
      problems.push(`AUTO_HEAL_THRESHOLDS: ${status} must be whole minutes (at least 1m), got ${seconds}s`);
    } else {
      autoHealMinutes[status] = seconds / 60;
    }
  }
  return { scheduler: scheduler ?? 'auto', intervalSeconds: Math.max(intervalSeconds, 60), autoHealMinutes };
}

/** "preparing=30m,ready=60m" -> { preparing: 1800, ready: 3600 } */
function parseThresholds(raw: string, problems: string[], name = 'STUCK_ORDER_THRESHOLDS'): Record<string, number> {
  const thresholds: Record<string, number> = {};
  for (const part of parseList(raw)) {
    const match = /^([a-z_]+)=(\d+)([smh])$/.exec(part);
    if (!match) {
      problems.push(`${name}: "${part}" is not status=<number><s|m|h>, e.g. preparing=30m`);
      continue;
    }
    const [, status, amount, unit] = match as unknown as [string, string, string, string];
    thresholds[status] = Number(amount) * (DURATION_UNITS[unit] ?? 1);
  }
  return thresholds;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40,
};

/** "500MB" -> 500000000, "8GiB" -> 8589934592, "0" -> 0 */
function parseBytes(raw: string, problems: string[]): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(raw);
  const factor = match ? BYTE_UNITS[(match[2] ?? '').toUpperCase()] : undefined;
  if (!match || factor === undefined) {
    problems.push(`DB_SIZE_LIMIT_BYTES must be a size such as 524288000, 500MB or 8GiB, got "${raw}"`);
    return 0;
  }
  return Math.round(Number(match[1]) * factor);
}

/** The connection string with its password masked, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable connection string)';
  }
}

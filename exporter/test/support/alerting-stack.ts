// The whole alerting path on loopback, for end-to-end tests (the Grafana tests reuse it): a
// database (the Postgres server of TEST_DATABASE_URL when set, else embedded PGlite), the
// exporter with its webhooks, the real Prometheus and Alertmanager binaries, and recording
// sinks for SMTP, Slack and Twilio.
//
// What differs from production, and only this (nothing but addresses with shippedTimers): Prometheus scrapes and evaluates every second
// and loads prometheus/rules/*.yml as they are (timeScale 1, the default) or, for a quick local
// run, a copy whose durations (for:, range windows) are divided by timeScale; Alertmanager's copy has short group_wait / group_interval and points its
// receivers (exporter URL, SMTP host, secret files) at the local processes. Expressions,
// thresholds, labels, annotations, routes, receivers and matchers are the project's own.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort, prometheusConfigCopy, repoPaths, startAlertmanager, startPrometheus, whichBinary, writeAlertmanagerConfigCopy, type RunningProcess,
} from '../../src/ops/stack/processes.js';
import { backends, createTestDatabase, type BackendKind, type TestDatabase } from './databases.js';
import { startExporter, type RunningExporter } from './exporter.js';
import { secretFile, startSlackSink, startSmtpSink, startTwilioSink, type Sink, type SlackMessage, type SmtpSink, type TwilioSink } from './sinks.js';
import { findTool } from './tools.js';

export const STACK_TOOLS = ['prometheus', 'prometheus-alertmanager', 'openssl'] as const;

/** Why the stack cannot run here (a missing binary), or undefined; in CI a missing one throws. */
export function alertingStackSkip(): string | undefined {
  const missing = STACK_TOOLS.map((tool) => findTool(tool).skip).filter((s) => s !== undefined);
  return missing.length > 0 ? missing.join(', ') : undefined;
}

export const HOOKS_TOKEN = 'e2e-hooks-token';
export const SMTP_PASSWORD = 're_e2e_resend_api_key';
export const TWILIO = { accountSid: `AC${'e2e0'.repeat(8)}`, authToken: 'e2e-twilio-token', from: '+15005550006', to: ['+15005550001'] };

export interface AlertingStack {
  backend: BackendKind;
  db: TestDatabase;
  exporter: RunningExporter;
  prometheus: RunningProcess;
  alertmanager: RunningProcess;
  smtp: SmtpSink;
  slack: Sink<SlackMessage>;
  twilio: TwilioSink;
  timeScale: number;
  /** runs an instant PromQL query against the stack's Prometheus */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** inserts runtime_metrics rows through the exporter's own pool (PGlite allows one connection) */
  insertEvents(rows: { event_type: string; event_data: Record<string, unknown> }[]): Promise<void>;
  stop(): Promise<void>;
}

export interface AlertingStackOptions {
  /** production durations divided by this (default 1: the real rules; 20 makes a 5m window 15s) */
  timeScale?: number;
  /** extra exporter environment */
  env?: Record<string, string>;
  /** load the demo data of sql/seed (stores, orders, deployments) */
  seed?: boolean;
  /** keep prometheus.yml's scrape and evaluation intervals and alertmanager.yml's grouping timers as shipped */
  shippedTimers?: boolean;
  /** the exporter reaches Postgres through this connection string (e.g. a proxy's) instead of the database's own */
  exporterConnectionString?: (db: TestDatabase) => Promise<string>;
}

/** The exporter settings of Alertmanager's webhooks (token, the SMS bridge pointed at the Twilio sink). */
export function webhookEnv(twilioUrl: string): Record<string, string> {
  return {
    HOOKS_AUTH_TOKEN: HOOKS_TOKEN,
    TWILIO_ACCOUNT_SID: TWILIO.accountSid,
    TWILIO_AUTH_TOKEN: TWILIO.authToken,
    TWILIO_FROM_NUMBER: TWILIO.from,
    ALERT_SMS_NUMBERS: TWILIO.to.join(','),
    TWILIO_API_BASE_URL: twilioUrl,
  };
}

/** Alertmanager's secrets as it reads them in production, one file each, in dir/secrets. */
export function writeAlertmanagerSecrets(dir: string, slackUrl: string): string {
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  secretFile(secrets, 'smtp-password', SMTP_PASSWORD);
  secretFile(secrets, 'slack-webhook-url', slackUrl);
  secretFile(secrets, 'hooks-token', HOOKS_TOKEN);
  return secrets;
}

/** The project's rule files copied to dir/rules with their durations divided by timeScale; returns the glob. */
export function writeScaledRules(dir: string, timeScale: number): string {
  const rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir);
  for (const file of readdirSync(repoPaths.rules).filter((f) => f.endsWith('.yml'))) {
    writeFileSync(join(rulesDir, file), scaleRuleDurations(readFileSync(join(repoPaths.rules, file), 'utf8'), timeScale));
  }
  return join(rulesDir, '*.yml');
}

/** Divides every for: / keep_firing_for: and [range] duration of a rule file by scale. */
export function scaleRuleDurations(text: string, scale: number): string {
  const seconds = { s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>;
  const scaled = (amount: string, unit: string) => `${Math.max(1, Math.round((Number(amount) * (seconds[unit] ?? 1) * 1000) / scale))}ms`;
  return text
    .replace(/^(\s+(?:for|keep_firing_for):) (\d+)([smhd])$/gm, (_m, key: string, amount: string, unit: string) => `${key} ${scaled(amount, unit)}`)
    .replace(/\[(\d+)([smhd])\]/g, (_m, amount: string, unit: string) => `[${scaled(amount, unit)}]`);
}

export async function startAlertingStack({ timeScale = 1, env = {}, seed = false, shippedTimers = false, exporterConnectionString }: AlertingStackOptions = {}): Promise<AlertingStack> {
  const prometheusBinary = whichBinary('prometheus');
  const alertmanagerBinary = whichBinary('prometheus-alertmanager', 'alertmanager');
  if (!prometheusBinary || !alertmanagerBinary) throw new Error('prometheus and prometheus-alertmanager must be installed (Debian packages prometheus, prometheus-alertmanager)');
  const backend: BackendKind = backends.some((b) => b.kind === 'postgres' && b.skip === undefined) ? 'postgres' : 'pglite';
  const dir = mkdtempSync(join(tmpdir(), 'cc-alerting-stack-'));
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const db = await createTestDatabase(backend, { seed });
    stops.push(() => db.stop());
    const [smtp, slack, twilio] = await Promise.all([startSmtpSink(), startSlackSink(), startTwilioSink()]);
    stops.push(() => smtp.close(), () => slack.close(), () => twilio.close());

    const exporter = await startExporter(exporterConnectionString ? await exporterConnectionString(db) : db.connectionString, {
      ...(backend === 'pglite' ? { DB_POOL_MAX: '1' } : {}),
      ...webhookEnv(twilio.url),
      ...env,
    });
    stops.push(() => exporter.stop());
    await exporter.scraper.refresh(); // the event cursor starts now

    const secrets = writeAlertmanagerSecrets(dir, slack.url);

    const [promPort, amPort] = [await freePort(), await freePort()];
    const rules = writeScaledRules(dir, timeScale);
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(promConfig, prometheusConfigCopy({
      exporter: new URL(exporter.url).host,
      alertmanager: `127.0.0.1:${amPort}`,
      self: `127.0.0.1:${promPort}`,
      ...(shippedTimers ? {} : { scrapeInterval: '1s', evaluationInterval: '1s' }),
      ruleFiles: [rules],
    }));
    const amConfig = writeAlertmanagerConfigCopy(join(dir, 'alertmanager'), {
      exporterUrl: exporter.url,
      smarthost: `127.0.0.1:${smtp.port}`,
      secretsDir: secrets,
      ...(shippedTimers ? {} : { timing: { groupWait: '1s', groupInterval: '2s' } }),
    });
    // The sink's self-signed certificate is the only root Alertmanager trusts (Go reads SSL_CERT_FILE),
    // so the production require_tls stays on.
    const alertmanager = await startAlertmanager(alertmanagerBinary, { configFile: amConfig, dataDir: join(dir, 'am-data'), port: amPort, env: { SSL_CERT_FILE: smtp.caFile } });
    stops.push(() => alertmanager.stop());
    const prometheus = await startPrometheus(prometheusBinary, { configFile: promConfig, dataDir: join(dir, 'prom-data'), port: promPort });
    stops.push(() => prometheus.stop());

    return {
      backend,
      db,
      exporter,
      prometheus,
      alertmanager,
      smtp,
      slack,
      twilio,
      timeScale,
      async query(promql) {
        const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
        const body = (await res.json()) as { status: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
        if (body.status !== 'success' || !body.data) throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
        return body.data.result;
      },
      async insertEvents(rows) {
        await exporter.pool.query(
          `INSERT INTO public.runtime_metrics (event_type, event_data)
           SELECT r.event_type, r.event_data FROM jsonb_to_recordset($1::jsonb) AS r(event_type text, event_data jsonb)`,
          [JSON.stringify(rows)],
        );
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Waits until Prometheus holds the payment-failure series (or its de-duplicating record) at 0: alerts can see the first failure. */
export async function paymentFailuresAtZero(stack: AlertingStack, series: 'cc_events_total' | 'cc:events_total:max' = 'cc_events_total', timeoutMs = 30_000): Promise<void> {
  await eventually(async () => {
    const result = await stack.query(`${series}{event_type="payment_failure"}`);
    return result.length === 1 && result[0]!.value[1] === '0' ? true : undefined;
  }, timeoutMs, `${series}{event_type="payment_failure"} at 0 in Prometheus`);
}

/** Polls fn until it returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// Alertmanager's side under faults: its webhook retries (and concurrent, reordered deliveries of
// the same notifications) never duplicate alert_history rows; Slack and Twilio answering 500 or
// hanging cost bounded time, are retried, crash nothing, and the message still arrives once.
// The real Alertmanager binary runs the project's alertmanager.yml (routes, receivers, templates;
// only the grouping timers shortened), pushed alerts through its API; Slack and Twilio are the
// recording fakes of test/sinks.ts behind a front that fails or hangs on demand; Postgres is the
// server of TEST_DATABASE_URL behind the loopback proxy. hooks.test.ts covers the sequential
// retry of one delivery and Twilio failing for the SMS bridge alone.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHooksRouter } from '../../src/hooks/index.js';
import { freePort, startAlertmanager, whichBinary, writeAlertmanagerConfigCopy, type RunningProcess } from '../../src/ops/stack/processes.js';
import { eventually } from '../support/alerting-stack.js';
import { backends, createTestDatabase, silentLogger, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { startFaultyFront, type FaultyFront } from '../support/faulty-http.js';
import { samples } from '../support/metrics.js';
import { startProxy, type DbProxy } from '../support/proxy.js';
import { secretFile, startSlackSink, startSmtpSink, startTwilioSink, type Sink, type SlackMessage, type SmtpSink, type TwilioSink } from '../support/sinks.js';
import { findTool } from '../support/tools.js';
import { report, sleep } from './helpers.js';

const server = backends.find((b) => b.kind === 'postgres')!;
const TOKEN = 'faults-hooks-token';
const SID = `AC${'fa017500'.repeat(4)}`;
const NUMBERS = ['+15005550001', '+15005550002'];
/** two of the shortened group_interval: a duplicate would have been sent by then */
const SETTLE_MS = 4_500;

const annotations = (name: string) => ({ summary: `${name} under a fault test.`, description: `${name} fired by the fault suite.`, runbook_url: `https://example.com/runbooks.md#${name.toLowerCase()}` });

async function postJson(url: string, body: unknown, token = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, body: { text } };
  }
}

function webhookAlert(fingerprint: string, status: 'firing' | 'resolved', startsAt: string): Record<string, unknown> {
  return {
    status,
    labels: { alertname: 'StuckOrders', severity: 'warning', store: fingerprint },
    annotations: annotations('StuckOrders'),
    startsAt,
    endsAt: status === 'resolved' ? '2026-03-01T10:30:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph',
    fingerprint,
  };
}

function webhookPayload(alerts: Record<string, unknown>[], status: 'firing' | 'resolved'): Record<string, unknown> {
  return {
    version: '4', receiver: 'alert-history', status, groupKey: '{}/{}:{alertname="StuckOrders"}', truncatedAlerts: 0,
    groupLabels: { alertname: 'StuckOrders' }, commonLabels: { alertname: 'StuckOrders', severity: 'warning' }, commonAnnotations: {},
    externalURL: 'http://alertmanager:9093', alerts,
  };
}

describe.skipIf(server.skip !== undefined)(`alert-history webhook under concurrent redelivery [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let exporter: RunningExporter;
  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    const dir = mkdtempSync(join(tmpdir(), 'cc-faults-hooks-'));
    exporter = await startExporter(db.connectionString, { DB_POOL_MAX: '4', COLLECTORS: 'database', HOOKS_AUTH_TOKEN_FILE: secretFile(dir, 'token', TOKEN) });
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it('writes one row per alert occurrence when the same notifications arrive many times at once, in any order', async () => {
    const fingerprints = Array.from({ length: 8 }, (_, i) => `fault${String(i).padStart(11, '0')}`);
    const startsAt = '2026-03-01T10:00:00Z';
    const firing = fingerprints.map((f) => webhookAlert(f, 'firing', startsAt));
    const resolved = fingerprints.slice(0, 4).map((f) => webhookAlert(f, 'resolved', startsAt));
    // 24 deliveries at once: the firing group 16 times (alerts in rotated orders, as a retry
    // racing a repeat), the resolved group of half of them 8 times (in two orders).
    const deliveries = [
      ...Array.from({ length: 16 }, (_, i) => webhookPayload([...firing.slice(i % 8), ...firing.slice(0, i % 8)], 'firing')),
      ...Array.from({ length: 8 }, (_, i) => webhookPayload(i % 2 ? [...resolved].reverse() : resolved, 'resolved')),
    ];
    const url = `${exporter.url}/hooks/alert-history`;
    const answers = await Promise.all(deliveries.map((d) => postJson(url, d)));
    // Every delivery written at once: the upserts take their row locks in key order, so
    // reordered deliveries wait for each other instead of deadlocking (a 503 and a retry).
    expect(answers.map((a) => a.status)).toEqual(Array(deliveries.length).fill(200));

    const { rows } = await exporter.pool.query<{ fingerprint: string; status: string; notifications: number; n: string }>(
      `SELECT fingerprint, status, notifications, count(*) OVER (PARTITION BY fingerprint, starts_at) AS n FROM alert_history ORDER BY fingerprint`,
    );
    report(`alert-history: ${deliveries.length} concurrent deliveries of ${fingerprints.length} alerts, all answered 200: ${rows.length} rows, one per alert`);
    expect(rows.map((r) => r.fingerprint)).toEqual(fingerprints);
    expect(rows.every((r) => r.n === '1')).toBe(true);
    // Resolved wins whatever the order; every delivery written is counted on its row.
    expect(rows.map((r) => r.status)).toEqual([...Array(4).fill('resolved'), ...Array(4).fill('firing')]);
    expect(rows.map((r) => r.notifications)).toEqual([...Array(4).fill(16 + 8), ...Array(4).fill(16)]);
  });
});

// The SMS bridge with knobs short enough for a test (the defaults: 3 attempts of 5 s, back-off
// 0.5 s then 1 s, i.e. at most 16.5 s per number): a hanging Twilio costs bounded time.
describe('SMS bridge with Twilio hanging', () => {
  let twilio: TwilioSink;
  let front: FaultyFront;
  let url: string;
  let close: () => Promise<void>;
  const registry = new Registry();
  const ATTEMPTS = 3;
  const TIMEOUT_MS = 400;

  beforeAll(async () => {
    twilio = await startTwilioSink();
    front = await startFaultyFront(twilio.url);
    const app = express();
    app.use(createHooksRouter({
      db: { query: () => Promise.reject(new Error('no database in this test')) } as never,
      // The database refuses every query: the SMS gate (cooldown, acknowledgement) opens, a page goes out.
      options: { token: TOKEN, sms: { accountSid: SID, authToken: 'secret', from: '+15005550006', to: NUMBERS, apiBaseUrl: front.url, cooldownMs: 900_000 }, heartbeatUrl: undefined, ackToken: undefined },
      registry,
      logger: silentLogger,
      sms: { attempts: ATTEMPTS, backoffMs: 50, timeoutMs: TIMEOUT_MS },
    }));
    const listener = app.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/hooks/sms`;
    close = () => {
      listener.closeAllConnections();
      return new Promise((resolve) => listener.close(() => resolve()));
    };
  });
  afterAll(async () => {
    await close?.();
    await front?.close();
    await twilio?.close();
  });

  it('answers 502 within the retry budget, having tried each number every attempt, then texts each once when Twilio is back', async () => {
    front.hang();
    const payload = webhookPayload([webhookAlert('hang0000000001', 'firing', '2026-03-01T11:00:00Z')], 'firing');
    const started = performance.now();
    const hung = await postJson(url, payload);
    const ms = performance.now() - started;
    expect(hung.status).toBe(502);
    expect(String(hung.body.error)).toMatch(/^2 of 2 SMS not sent: Twilio unreachable: .*(timeout|aborted)/i);
    // Bounded: every attempt was cut by its timeout, and no more attempts than configured were made.
    expect(front.seen.hung).toBe(NUMBERS.length * ATTEMPTS);
    expect(ms).toBeGreaterThanOrEqual(NUMBERS.length * ATTEMPTS * TIMEOUT_MS * 0.9);
    // The budget: attempts x timeout + back-off, per number; the bound is 5x it (a busy machine).
    const budget = NUMBERS.length * (ATTEMPTS * TIMEOUT_MS + 50 + 100);
    expect(ms).toBeLessThan(5 * budget);
    expect(await samples(registry, 'cc_sms_failures_total')).toEqual({ '': 2 });

    // Alertmanager delivers again (a 5xx); Twilio answers now: each number texted once.
    front.release();
    const again = await postJson(url, payload);
    expect(again).toEqual({ status: 200, body: { status: 'ok', sent: 2, skipped: 0 } });
    expect(twilio.received.map((r) => r.value.to)).toEqual(NUMBERS);
    expect((await postJson(url, payload)).body).toEqual({ status: 'ok', sent: 0, skipped: 2 });
    report(`SMS bridge, Twilio hanging: 502 after ${Math.round(ms)} ms (${front.seen.hung} attempts of ${TIMEOUT_MS} ms), then 2 SMS sent once each`);
  });
});

const amBinary = whichBinary('prometheus-alertmanager', 'alertmanager');
const toolSkip = [findTool('prometheus-alertmanager').skip, findTool('openssl').skip].filter(Boolean).join(', ') || undefined;
const amSkip = server.skip ?? toolSkip;

describe.skipIf(amSkip !== undefined)(`Alertmanager with Slack, Twilio and Postgres failing [postgres, real Alertmanager]${amSkip ? ` (skipped: ${amSkip})` : ''}`, () => {
  let dir: string;
  let db: TestDatabase;
  let proxy: DbProxy;
  let exporter: RunningExporter;
  let smtp: SmtpSink;
  let slack: Sink<SlackMessage>;
  let slackFront: FaultyFront;
  let twilio: TwilioSink;
  let am: RunningProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cc-faults-am-'));
    db = await createTestDatabase('postgres');
    proxy = await startProxy(db.connectionString);
    [smtp, slack, twilio] = await Promise.all([startSmtpSink(), startSlackSink(), startTwilioSink()]);
    slackFront = await startFaultyFront(slack.url);
    exporter = await startExporter(proxy.connectionString, {
      DB_POOL_MAX: '3',
      DB_CONNECT_TIMEOUT_MS: '1000',
      DB_STATEMENT_TIMEOUT_MS: '2000',
      COLLECTORS: 'database',
      HOOKS_AUTH_TOKEN: TOKEN,
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN: 'faults-twilio-token',
      TWILIO_FROM_NUMBER: '+15005550006',
      ALERT_SMS_NUMBERS: NUMBERS.join(','),
      TWILIO_API_BASE_URL: twilio.url,
    });
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    secretFile(secrets, 'smtp-password', 're_faults');
    secretFile(secrets, 'slack-webhook-url', slackFront.url);
    secretFile(secrets, 'hooks-token', TOKEN);
    const configFile = writeAlertmanagerConfigCopy(join(dir, 'alertmanager'), {
      exporterUrl: exporter.url,
      smarthost: `127.0.0.1:${smtp.port}`,
      secretsDir: secrets,
      timing: { groupWait: '1s', groupInterval: '2s' },
    });
    am = await startAlertmanager(amBinary!, { configFile, dataDir: join(dir, 'am-data'), port: await freePort(), env: { SSL_CERT_FILE: smtp.caFile } });
  });
  afterAll(async () => {
    await am?.stop();
    await exporter?.stop();
    await slackFront?.close();
    await Promise.all([smtp?.close(), slack?.close(), twilio?.close()]);
    await proxy?.close();
    await db?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function push(labels: Record<string, string>, { resolved = false, startsAt }: { resolved?: boolean; startsAt: string }): Promise<void> {
    const res = await fetch(`${am.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([{ labels, annotations: annotations(labels.alertname!), startsAt, ...(resolved ? { endsAt: new Date().toISOString() } : {}), generatorURL: 'http://prometheus:9090/graph' }]),
    });
    expect(res.status, await res.text()).toBe(200);
  }

  const historyRows = async (alertname: string) =>
    (await exporter.pool.query<{ status: string; notifications: number }>(`SELECT status, notifications FROM alert_history WHERE alertname = $1 ORDER BY id`, [alertname])).rows;

  async function healthy(): Promise<void> {
    expect((await exporter.get('/healthz')).status).toBe(200);
    expect((await fetch(`${am.url}/-/healthy`)).status).toBe(200);
  }

  it('retries the alert-history webhook while Postgres is down and writes the alert once when it is back', async () => {
    const name = 'DbConnectionPoolSaturated';
    const startsAt = new Date().toISOString();
    const failures = async () => (await samples(exporter.registry, 'cc_alert_history_write_failures_total'))[''] ?? 0;
    const before = await failures();
    await proxy.cut();
    try {
      await push({ alertname: name, severity: 'critical' }, { startsAt });
      // Answered 503 and delivered again by Alertmanager, at least twice, while email and Slack go out.
      await eventually(async () => ((await failures()) >= before + 2 ? true : undefined), 20_000, 'two alert-history deliveries answered 503');
      await smtp.waitFor((m) => m.subject.includes(`[FIRING] ${name}`), 15_000, `the ${name} email while Postgres is down`);
      await slack.waitFor((m) => m.text.includes(`[FIRING] ${name}`), 15_000, `the ${name} Slack message while Postgres is down`);
    } finally {
      await proxy.restore();
    }
    const retries = (await failures()) - before;
    const firing = await eventually(async () => {
      const rows = await historyRows(name);
      return rows.length > 0 ? rows : undefined;
    }, 20_000, `the ${name} row after Postgres came back`);
    expect(firing).toMatchObject([{ status: 'firing' }]);

    await push({ alertname: name, severity: 'critical' }, { startsAt, resolved: true });
    await eventually(async () => ((await historyRows(name))[0]?.status === 'resolved' ? true : undefined), 20_000, `the ${name} row resolved`);
    await slack.waitFor((m) => m.text.includes(`[RESOLVED] ${name}`), 15_000, `the resolved ${name} Slack message`);
    await sleep(SETTLE_MS);
    const rows = await historyRows(name);
    report(`Alertmanager -> alert-history with Postgres cut: ${retries} deliveries answered 503 and retried by Alertmanager; afterwards ${rows.length} row (${rows[0]?.status}, ${rows[0]?.notifications} deliveries written)`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'resolved' });
    expect(rows[0]!.notifications).toBeGreaterThanOrEqual(2);
    await healthy();
  }, 60_000);

  it('retries Slack answering 500 and delivers the message once', async () => {
    const name = 'HighErrorRate';
    slackFront.fail(3, 500);
    const before = { ...slackFront.seen };
    await push({ alertname: name, severity: 'critical' }, { startsAt: new Date().toISOString() });
    const message = await slack.waitFor((m) => m.text.includes(`[FIRING] ${name}`), 20_000, `the ${name} Slack message after three 500s`);
    expect(slackFront.seen.failed - before.failed).toBe(3);
    await sleep(SETTLE_MS);
    const copies = slack.received.filter((r) => r.value.text.includes(`[FIRING] ${name}`));
    report(`Slack answering 500 three times: Alertmanager retried, message delivered once (${copies.length}) after ${slackFront.seen.forwarded - before.forwarded + 3} attempts`);
    expect(copies).toEqual([message]);
    expect(await historyRows(name)).toHaveLength(1);
    await healthy();
  }, 60_000);

  it('keeps email, SMS and history flowing while Slack hangs, and delivers Slack once it answers again', async () => {
    const name = 'PaymentFailures';
    slackFront.hang();
    let released = false;
    try {
      await push({ alertname: name, severity: 'critical' }, { startsAt: new Date().toISOString() });
      const started = Date.now();
      await smtp.waitFor((m) => m.subject.includes(`[FIRING] ${name}`), 15_000, `the ${name} email while Slack hangs`);
      for (const to of NUMBERS) await twilio.waitFor((m) => m.to === to && m.body.startsWith(`FIRING ${name}`), 15_000, `the ${name} SMS to ${to} while Slack hangs`);
      await eventually(async () => ((await historyRows(name)).length === 1 ? true : undefined), 15_000, `the ${name} history row while Slack hangs`);
      const otherChannelsMs = Date.now() - started;
      expect(slackFront.hanging()).toBeGreaterThanOrEqual(1);
      expect(slack.received.filter((r) => r.value.text.includes(name))).toEqual([]);

      slackFront.release(); // the hung connections drop; Slack answers again
      released = true;
      const message = await slack.waitFor((m) => m.text.includes(`[FIRING] ${name}`), 30_000, `the ${name} Slack message once Slack answers`);
      await sleep(SETTLE_MS);
      report(`Slack hanging: email, 2 SMS and the history row delivered in ${otherChannelsMs} ms meanwhile; Slack delivered ${message.at - started} ms after the push, once released`);
      expect(slack.received.filter((r) => r.value.text.includes(`[FIRING] ${name}`))).toEqual([message]);
      expect(twilio.received.filter((r) => r.value.body.startsWith(`FIRING ${name}`)).map((r) => r.value.to).sort()).toEqual(NUMBERS);
    } finally {
      if (!released) slackFront.release();
    }
    await healthy();
  }, 60_000);

  it('answers 502 while Twilio answers 500, and Alertmanager\'s retry texts each number once', async () => {
    const name = 'DeploymentRollbackFailed';
    const failuresBefore = (await samples(exporter.registry, 'cc_sms_failures_total'))[''] ?? 0;
    const requestsBefore = twilio.requests;
    twilio.failNext(3, 500); // the first number's three attempts
    await push({ alertname: name, severity: 'critical', environment: 'production' }, { startsAt: new Date().toISOString() });
    for (const to of NUMBERS) await twilio.waitFor((m) => m.to === to && m.body.startsWith(`FIRING ${name}`), 25_000, `the ${name} SMS to ${to}`);
    await sleep(SETTLE_MS);
    const texts = twilio.received.filter((r) => r.value.body.startsWith(`FIRING ${name}`)).map((r) => r.value.to);
    const requests = twilio.requests - requestsBefore;
    const failures = ((await samples(exporter.registry, 'cc_sms_failures_total'))[''] ?? 0) - failuresBefore;
    report(`Twilio answering 500 three times: the SMS webhook answered 502 ${failures} time(s), Alertmanager retried; ${texts.length} SMS for ${NUMBERS.length} numbers in ${requests} Twilio requests`);
    expect(texts.sort()).toEqual(NUMBERS);
    expect(failures).toBe(1);
    // 3 failed attempts for the first number, 1 for the second, 1 for the first on the retry (the second skipped).
    expect(requests).toBe(5);
    await healthy();
  }, 60_000);
});

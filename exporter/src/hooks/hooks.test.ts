import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../test/databases.js';
import { startExporter, type RunningExporter } from '../test/exporter.js';
import { samples } from '../test/metrics.js';
import { secretFile, startTwilioSink, type TwilioSink } from '../test/sinks.js';
import { parseWebhookPayload } from './payload.js';
import { SMS_MAX_LENGTH, smsText } from './sms.js';

const TOKEN = 'hooks-test-token';
const SID = `AC${'0123456789abcdef'.repeat(2)}`;

function alert(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status: 'firing',
    labels: { alertname: 'PaymentFailures', severity: 'critical' },
    annotations: { summary: 'Payments are failing.', description: '3 payment failures in the last 5 minutes.', runbook_url: 'https://example.com/runbooks.md#paymentfailures' },
    startsAt: '2026-01-02T03:04:05.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=x',
    fingerprint: 'a1b2c3d4e5f60718',
    ...overrides,
  };
}

function payload(alerts: Record<string, unknown>[], status = 'firing', receiver = 'alert-history'): Record<string, unknown> {
  return {
    version: '4',
    receiver,
    status,
    groupKey: '{}/{}:{alertname="PaymentFailures", severity="critical"}',
    groupLabels: { alertname: 'PaymentFailures', severity: 'critical' },
    commonLabels: { alertname: 'PaymentFailures', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    truncatedAlerts: 0,
    alerts,
  };
}

async function post(exporter: RunningExporter, path: string, body: unknown, token: string | null = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(exporter.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

describe('hooks without HOOKS_AUTH_TOKEN', () => {
  let exporter: RunningExporter;
  beforeAll(async () => {
    exporter = await startExporter('postgres://127.0.0.1:1/unused');
  });
  afterAll(() => exporter.stop());

  it('answer 404 and say how to turn them on', async () => {
    for (const path of ['/hooks/alert-history', '/hooks/sms']) {
      const res = await post(exporter, path, payload([alert()]));
      expect(res.status).toBe(404);
      expect(res.body.error).toMatch(/HOOKS_AUTH_TOKEN/);
    }
  });
});

describe('SMS text', () => {
  it('says what, how bad and since when, in one segment', () => {
    const text = smsText(parseWebhookPayload(payload([alert()])));
    expect(text).toBe('FIRING PaymentFailures critical: 3 payment failures in the last 5 minutes. Since 03:04Z');
    const resolved = smsText(parseWebhookPayload(payload([alert({ status: 'resolved', endsAt: '2026-01-02T03:20:00Z' })], 'resolved')));
    expect(resolved).toBe('RESOLVED PaymentFailures critical: was: Payments are failing. Since 03:04Z');
  });

  it('cuts a long description and drops characters outside GSM-7', () => {
    const long = alert({ annotations: { description: `Überlast — ${'x'.repeat(400)} {braces}` } });
    const text = smsText(parseWebhookPayload(payload([long, alert({ fingerprint: 'ff' })])));
    expect(text.length).toBeLessThanOrEqual(SMS_MAX_LENGTH);
    expect(text).toMatch(/^FIRING PaymentFailures critical \(2\): Uberlast x+\.\.\. Since 03:04Z$/);
  });
});

describeEachBackend('alert webhooks', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;
  let twilio: TwilioSink;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    twilio = await startTwilioSink();
    const dir = mkdtempSync(join(tmpdir(), 'cc-hooks-'));
    exporter = await startExporter(db.connectionString, {
      DB_POOL_MAX: '1',
      COLLECTORS: 'database',
      HOOKS_AUTH_TOKEN_FILE: secretFile(dir, 'hooks-token', TOKEN),
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN_FILE: secretFile(dir, 'twilio-token', 'twilio-secret'),
      TWILIO_FROM_NUMBER: '+15005550006',
      ALERT_SMS_NUMBERS: '+15005550001,+15005550002',
      TWILIO_API_BASE_URL: twilio.url,
    });
  });
  afterAll(async () => {
    await exporter?.stop();
    await twilio?.close();
    await db?.stop();
  });

  const history = async () =>
    (await exporter.pool.query<{ fingerprint: string; alertname: string; severity: string; status: string; starts_at: Date; ends_at: Date | null; notifications: number; receiver: string; annotations: Record<string, string> }>(
      'SELECT fingerprint, alertname, severity, status, starts_at, ends_at, notifications, receiver, annotations FROM alert_history ORDER BY id',
    )).rows;

  it('refuses a missing or wrong token with 401', async () => {
    expect((await post(exporter, '/hooks/alert-history', payload([alert()]), null)).status).toBe(401);
    expect((await post(exporter, '/hooks/sms', payload([alert()]), 'wrong')).status).toBe(401);
    expect(await history()).toEqual([]);
  });

  it('answers 400 saying what is wrong with a bad payload', async () => {
    const notJson = await post(exporter, '/hooks/alert-history', '{nope');
    expect(notJson.status).toBe(400);
    const noAlerts = await post(exporter, '/hooks/alert-history', { version: '4', status: 'firing' });
    expect(noAlerts).toEqual({ status: 400, body: { error: 'not an Alertmanager webhook payload: alerts must be an array' } });
    const badTime = await post(exporter, '/hooks/alert-history', payload([alert({ startsAt: 'yesterday' })]));
    expect(badTime.body.error).toMatch(/alerts\[0\]\.startsAt must be an RFC 3339 time/);
    expect(await history()).toEqual([]);
  });

  it('writes a triggered row, keeps one row under retries and repeats, then resolves it', async () => {
    expect((await post(exporter, '/hooks/alert-history', payload([alert()]))).status).toBe(200);
    expect((await post(exporter, '/hooks/alert-history', payload([alert()]))).status).toBe(200); // retry / repeat
    let rows = await history();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ fingerprint: 'a1b2c3d4e5f60718', alertname: 'PaymentFailures', severity: 'critical', status: 'firing', ends_at: null, notifications: 2, receiver: 'alert-history' });
    expect(rows[0]!.starts_at.toISOString()).toBe('2026-01-02T03:04:05.000Z');

    const resolved = alert({ status: 'resolved', endsAt: '2026-01-02T03:20:00Z' });
    expect((await post(exporter, '/hooks/alert-history', payload([resolved], 'resolved'))).status).toBe(200);
    // A firing delivery retried after the resolved one does not reopen the occurrence.
    expect((await post(exporter, '/hooks/alert-history', payload([alert()]))).status).toBe(200);
    rows = await history();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'resolved', notifications: 4 });
    expect(rows[0]!.ends_at?.toISOString()).toBe('2026-01-02T03:20:00.000Z');

    // The same alert firing again later is a new occurrence.
    expect((await post(exporter, '/hooks/alert-history', payload([alert({ startsAt: '2026-01-02T05:00:00Z' })]))).status).toBe(200);
    rows = await history();
    expect(rows.map((r) => r.status)).toEqual(['resolved', 'firing']);

    expect(await samples(exporter.registry, 'cc_alert_history_writes_total')).toEqual({ 'status=firing': 4, 'status=resolved': 1 });
    expect(await samples(exporter.registry, 'cc_alert_history_write_failures_total')).toEqual({ '': 0 });
  });

  it('texts every number once per alert group, and answers 5xx when Twilio keeps failing', async () => {
    twilio.received.length = 0;
    const group = payload([alert(), alert({ fingerprint: 'second', labels: { alertname: 'PaymentFailures', severity: 'critical', provider: 'stripe' } })], 'firing', 'email-slack-sms');
    const ok = await post(exporter, '/hooks/sms', group);
    expect(ok).toEqual({ status: 200, body: { status: 'ok', sent: 2, skipped: 0 } });
    expect(twilio.received.map((r) => r.value.to)).toEqual(['+15005550001', '+15005550002']);
    for (const { value } of twilio.received) {
      expect(value).toMatchObject({ accountSid: SID, auth: `${SID}:twilio-secret`, from: '+15005550006' });
      expect(value.body).toBe('FIRING PaymentFailures critical (2): 3 payment failures in the last 5 minutes. Since 03:04Z');
      expect(value.body.length).toBeLessThanOrEqual(SMS_MAX_LENGTH);
    }

    // Twilio fails twice, then accepts: the back-off retries carry it through.
    twilio.received.length = 0;
    twilio.failNext(2, 503);
    const resolved = payload([alert({ status: 'resolved', endsAt: '2026-01-02T03:20:00Z' })], 'resolved', 'email-slack-sms');
    expect((await post(exporter, '/hooks/sms', resolved)).status).toBe(200);
    expect(twilio.received.map((r) => r.value.body)).toEqual([
      'RESOLVED PaymentFailures critical: was: Payments are failing. Since 03:04Z',
      'RESOLVED PaymentFailures critical: was: Payments are failing. Since 03:04Z',
    ]);

    // Twilio down: 502, so Alertmanager delivers again; a retried delivery texts only who was missed.
    twilio.received.length = 0;
    const other = payload([alert({ fingerprint: 'third', startsAt: '2026-01-02T06:00:00Z' })], 'firing', 'email-slack-sms');
    twilio.failNext(3, 500);
    const failed = await post(exporter, '/hooks/sms', other);
    expect(failed.status).toBe(502);
    expect(failed.body.error).toMatch(/^1 of 2 SMS not sent: Twilio answered 500: An internal server error has occurred/);
    expect(twilio.received.map((r) => r.value.to)).toEqual(['+15005550002']);
    const retried = await post(exporter, '/hooks/sms', other);
    expect(retried.body).toEqual({ status: 'ok', sent: 1, skipped: 1 });
    expect(twilio.received.map((r) => r.value.to)).toEqual(['+15005550002', '+15005550001']);

    // A 4xx from Twilio (a bad number, bad credentials) is not retried by the bridge.
    const requestsBefore = twilio.requests;
    twilio.failNext(1, 400);
    const refused = await post(exporter, '/hooks/sms', payload([alert({ fingerprint: 'fourth' })], 'firing', 'email-slack-sms'));
    expect(refused.status).toBe(502);
    expect(twilio.requests - requestsBefore).toBe(2); // the refused one once, the other number accepted

    expect(await samples(exporter.registry, 'cc_sms_sent_total')).toEqual({ '': 2 + 2 + 1 + 1 + 1 });
    expect(await samples(exporter.registry, 'cc_sms_failures_total')).toEqual({ '': 1 + 1 });
  });

  it('texts a new occurrence of the same alert again, however soon after it resolved; a redelivery of one notification once', async () => {
    const once = (status: string, startsAt: string) =>
      payload([alert({ fingerprint: 'flapping', status, startsAt })], status, 'email-slack-sms');
    const sent = async (p: Record<string, unknown>) => (await post(exporter, '/hooks/sms', p)).body;
    const twoNumbers = { status: 'ok', sent: 2, skipped: 0 };
    expect(await sent(once('firing', '2026-01-02T07:00:00Z'))).toEqual(twoNumbers);
    expect(await sent(once('firing', '2026-01-02T07:00:00Z'))).toEqual({ status: 'ok', sent: 0, skipped: 2 }); // redelivered
    expect(await sent(once('resolved', '2026-01-02T07:00:00Z'))).toEqual(twoNumbers);
    expect(await sent(once('firing', '2026-01-02T07:01:00Z'))).toEqual(twoNumbers); // the next occurrence pages
    expect(await sent(once('firing', '2026-01-02T07:01:00Z'))).toEqual({ status: 'ok', sent: 0, skipped: 2 });
    expect(await sent(once('resolved', '2026-01-02T07:01:00Z'))).toEqual(twoNumbers); // and its end too
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { samples } from '../support/metrics.js';
import { secretFile, startHeartbeatSink, startTwilioSink, type HeartbeatSink, type TwilioSink } from '../support/sinks.js';
import { parseWebhookPayload } from '../../src/hooks/payload.js';
import { SMS_MAX_LENGTH, smsText } from '../../src/hooks/sms.js';

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

/** An exporter's settings with the webhooks on, the SMS bridge pointed at the Twilio sink, its secrets in files of dir. */
function hooksEnv(dir: string, twilioUrl: string, numbers: string): Record<string, string> {
  return {
    DB_POOL_MAX: '1',
    COLLECTORS: 'database',
    HOOKS_AUTH_TOKEN_FILE: secretFile(dir, 'hooks-token', TOKEN),
    TWILIO_ACCOUNT_SID: SID,
    TWILIO_AUTH_TOKEN_FILE: secretFile(dir, 'twilio-token', 'twilio-secret'),
    TWILIO_FROM_NUMBER: '+15005550006',
    ALERT_SMS_NUMBERS: numbers,
    TWILIO_API_BASE_URL: twilioUrl,
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
      ...hooksEnv(dir, twilio.url, '+15005550001,+15005550002'),
      SMS_COOLDOWN: '0s', // every notification on its own here; the cooldown has its own tests below
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

// The SMS cooldown and acknowledgements, shared through Postgres by every exporter replica: two
// exporters on one database, Alertmanager's deliveries landing on either.
describeEachBackend('SMS cooldown and acknowledgement', (kind) => {
  let db: TestDatabase;
  let a: RunningExporter;
  let b: RunningExporter;
  let twilio: TwilioSink;
  let heartbeat: HeartbeatSink;
  const ACK_TOKEN = 'ack-token-0123456789';

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    [twilio, heartbeat] = await Promise.all([startTwilioSink(), startHeartbeatSink()]);
    const dir = mkdtempSync(join(tmpdir(), 'cc-hooks-'));
    const env = {
      ...hooksEnv(dir, twilio.url, '+15005550001'),
      ACK_AUTH_TOKEN_FILE: secretFile(dir, 'ack-token', ACK_TOKEN),
      HEARTBEAT_URL_FILE: secretFile(dir, 'heartbeat-url', `${heartbeat.url}/ping/5f1c`),
    };
    a = await startExporter(db.connectionString, env);
    // PGlite is one session: the second exporter shares the first one's pool there.
    b = kind === 'postgres' ? await startExporter(db.connectionString, env) : a;
  });
  afterAll(async () => {
    if (b !== a) await b?.stop();
    await a?.stop();
    await twilio?.close();
    await heartbeat?.close();
    await db?.stop();
  });

  const sms = (exporter: RunningExporter, status: string, startsAt: string, fingerprint = 'f1a9' + '0'.repeat(12)) =>
    post(exporter, '/hooks/sms', payload([alert({ fingerprint, status, startsAt, ...(status === 'resolved' ? { endsAt: '2026-01-02T09:00:00Z' } : {}) })], status, 'email-slack-sms'));
  const history = (exporter: RunningExporter, occurrence: { status: string; startsAt: string }) =>
    post(exporter, '/hooks/alert-history', payload([alert({ fingerprint: 'f1a9' + '0'.repeat(12), ...occurrence })], occurrence.status));
  const ack = (exporter: RunningExporter, body: unknown, authorization: string | null = `Bearer ${ACK_TOKEN}`, contentType = 'application/json') =>
    fetch(`${exporter.url}/alerts/ack`, {
      method: 'POST',
      headers: { 'Content-Type': contentType, ...(authorization ? { Authorization: authorization } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> }));

  it('a flapping alert pages once per cooldown, whichever replica gets the delivery; its RESOLVED only for the occurrence that paged; every occurrence is in the history', async () => {
    twilio.received.length = 0;
    const occurrences = ['2026-01-02T08:00:00Z', '2026-01-02T08:03:00Z', '2026-01-02T08:06:00Z'];
    const answers = [];
    for (const [i, startsAt] of occurrences.entries()) {
      const to = i % 2 === 0 ? a : b;
      await history(to, { status: 'firing', startsAt });
      answers.push((await sms(to, 'firing', startsAt)).body);
      await history(to === a ? b : a, { status: 'resolved', startsAt, endsAt: '2026-01-02T09:00:00Z' } as never);
      answers.push((await sms(to === a ? b : a, 'resolved', startsAt)).body);
    }
    expect(answers).toEqual([
      { status: 'ok', sent: 1, skipped: 0 },
      { status: 'ok', sent: 1, skipped: 0 },
      { status: 'ok', sent: 0, skipped: 0, suppressed: 'cooldown' },
      { status: 'ok', sent: 0, skipped: 0, suppressed: 'not_paged' },
      { status: 'ok', sent: 0, skipped: 0, suppressed: 'cooldown' },
      { status: 'ok', sent: 0, skipped: 0, suppressed: 'not_paged' },
    ]);
    expect(twilio.received.map((m) => m.value.body.split(':')[0])).toEqual(['FIRING PaymentFailures critical', 'RESOLVED PaymentFailures critical']);
    const { rows } = await a.pool.query<{ status: string }>(`SELECT status FROM alert_history WHERE fingerprint = $1 ORDER BY starts_at`, ['f1a9' + '0'.repeat(12)]);
    expect(rows.map((r) => r.status)).toEqual(['resolved', 'resolved', 'resolved']);
    const suppressed = { ...(await samples(a.registry, 'cc_sms_suppressed_total')) };
    if (b !== a) for (const [k, v] of Object.entries(await samples(b.registry, 'cc_sms_suppressed_total'))) suppressed[k] = (suppressed[k] ?? 0) + v;
    expect(suppressed).toEqual({ 'reason=cooldown': 2, 'reason=not_paged': 2, 'reason=acknowledged': 0 });

    // Once the cooldown has passed (moved back in the table), the next occurrence pages again.
    await a.pool.query(`UPDATE observability.sms_pages SET firing_sent_at = firing_sent_at - interval '16 minutes'`);
    expect((await sms(b, 'firing', '2026-01-02T08:30:00Z')).body).toEqual({ status: 'ok', sent: 1, skipped: 0 });
  });

  it('acknowledging holds back the repeats of that occurrence only; the next occurrence pages again', async () => {
    const fp = 'ac4e' + '0'.repeat(12);
    const firing = (startsAt: string) => payload([alert({ fingerprint: fp, startsAt, labels: { alertname: 'DeploymentRollbackFailed', severity: 'critical' } })], 'firing', 'email-slack-sms');
    const group = (p: Record<string, unknown>) => ({ ...p, groupKey: '{}:{alertname="DeploymentRollbackFailed"}', commonLabels: { alertname: 'DeploymentRollbackFailed', severity: 'critical' } });
    twilio.received.length = 0;
    await post(a, '/hooks/alert-history', group(firing('2026-01-03T01:00:00Z')));
    expect((await post(a, '/hooks/sms', group(firing('2026-01-03T01:00:00Z')))).body).toMatchObject({ sent: 1 });

    // Bad input first: nothing recorded.
    expect((await ack(a, { fingerprint: fp, by: 'sam' }, null)).status).toBe(401);
    expect((await ack(a, { fingerprint: fp, by: 'sam' }, 'Bearer wrong-token-000000')).status).toBe(401);
    expect(await ack(a, { fingerprint: 'ffff' + '0'.repeat(12), by: 'sam' })).toEqual({ status: 404, body: { error: `no alert with fingerprint ffff${'0'.repeat(12)} on record` } });
    expect(await ack(a, { alertname: 'NeverFired', by: 'sam' })).toEqual({ status: 404, body: { error: 'no firing NeverFired alert on record' } });
    expect((await ack(a, { fingerprint: fp, by: 'sam', note: 'x'.repeat(1001) })).status).toBe(413);
    expect((await ack(a, { fingerprint: fp, by: 'sam', note: 'x'.repeat(20_000) })).status).toBe(413);
    expect((await ack(a, { fingerprint: fp })).status).toBe(400); // who?
    expect((await ack(a, '{nope')).status).toBe(400);
    expect((await a.pool.query(`SELECT count(*)::int AS n FROM alert_history WHERE acknowledged_at IS NOT NULL`)).rows[0]).toEqual({ n: 0 });

    // A page of another site posting the form with the browser's remembered credentials: refused.
    const forged = await fetch(`${a.url}/alerts/ack`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`sam:${ACK_TOKEN}`).toString('base64')}`, Origin: 'https://evil.example' },
      body: `fingerprint=${fp}&by=sam`,
    });
    expect(forged.status).toBe(403);
    expect((await a.pool.query(`SELECT count(*)::int AS n FROM alert_history WHERE acknowledged_at IS NOT NULL`)).rows[0]).toEqual({ n: 0 });

    // A browser: basic auth, the user name is who acknowledges, a form post.
    const basic = `Basic ${Buffer.from(`sam:${ACK_TOKEN}`).toString('base64')}`;
    const form = await fetch(`${b.url}/alerts/ack?fingerprint=${fp}`, { headers: { Authorization: basic } });
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('<input name="by" value="sam"');
    const done = await ack(b, `fingerprint=${fp}&id=&by=&note=on+it`, basic, 'application/x-www-form-urlencoded').catch(() => undefined);
    expect(done).toBeDefined();
    const row = (await a.pool.query<{ acknowledged_by: string; ack_note: string; acknowledged_at: Date }>(`SELECT acknowledged_by, ack_note, acknowledged_at FROM alert_history WHERE fingerprint = $1`, [fp])).rows[0]!;
    expect(row).toMatchObject({ acknowledged_by: 'sam', ack_note: 'on it' });

    // Again, by someone else: idempotent, the first acknowledgement kept.
    const again = await ack(a, { fingerprint: fp, by: 'alex', note: 'me too' });
    expect(again.status).toBe(200);
    expect(again.body.acknowledged).toEqual([expect.objectContaining({ acknowledged_by: 'sam', ack_note: 'on it', already: true })]);

    // Alertmanager repeats the occurrence after its repeat_interval (15m): held back, even past the cooldown of the first page.
    await a.pool.query(`UPDATE observability.sms_pages SET firing_sent_at = firing_sent_at - interval '16 minutes'`);
    expect((await post(b, '/hooks/sms', group(firing('2026-01-03T01:00:00Z')))).body).toEqual({ status: 'ok', sent: 0, skipped: 0, suppressed: 'acknowledged' });

    // It resolves; the next occurrence (a new start) is not acknowledged and pages.
    const resolved = group(payload([alert({ fingerprint: fp, status: 'resolved', startsAt: '2026-01-03T01:00:00Z', endsAt: '2026-01-03T01:20:00Z', labels: { alertname: 'DeploymentRollbackFailed', severity: 'critical' } })], 'resolved', 'email-slack-sms'));
    await post(a, '/hooks/alert-history', resolved);
    expect((await post(a, '/hooks/sms', resolved)).body).toMatchObject({ sent: 1 });
    await a.pool.query(`UPDATE observability.sms_pages SET firing_sent_at = firing_sent_at - interval '16 minutes'`);
    await post(a, '/hooks/alert-history', group(firing('2026-01-03T02:00:00Z')));
    expect((await post(a, '/hooks/sms', group(firing('2026-01-03T02:00:00Z')))).body).toMatchObject({ sent: 1 });
    expect(twilio.received.map((m) => m.value.body.split(':')[0])).toEqual([
      'FIRING DeploymentRollbackFailed critical', 'RESOLVED DeploymentRollbackFailed critical', 'FIRING DeploymentRollbackFailed critical',
    ]);
  });

  it('relays the Watchdog to the dead man\'s switch; 502 when the switch fails, so Alertmanager retries', async () => {
    const watchdog = { ...payload([alert({ labels: { alertname: 'Watchdog', severity: 'none' }, fingerprint: 'dddd000000000000' })], 'firing', 'heartbeat'), groupKey: '{}:{alertname="Watchdog"}' };
    expect(await post(a, '/hooks/heartbeat', watchdog)).toEqual({ status: 200, body: { status: 'ok', relayed: true } });
    expect(heartbeat.received.map((r) => `${r.value.method} ${r.value.path}`)).toEqual(['POST /ping/5f1c']);
    expect((await post(a, '/hooks/heartbeat', watchdog, null)).status).toBe(401);
    heartbeat.failNext(1, 500);
    const failed = await post(a, '/hooks/heartbeat', watchdog);
    expect(failed.status).toBe(502);
    expect(failed.body.error).toBe(`the dead man's switch at 127.0.0.1:${heartbeat.port} answered 500`);
    expect(JSON.stringify(failed.body)).not.toContain('5f1c'); // the URL's secret path never shows
    expect(await samples(a.registry, 'cc_heartbeats_total')).toEqual({ 'outcome=sent': 1, 'outcome=failed': 1, 'outcome=unconfigured': 0 });
  });
});

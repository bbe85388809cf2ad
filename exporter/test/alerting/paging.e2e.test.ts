// End to end, real processes on loopback: payment failures in runtime_metrics reach a person by
// email, Slack and SMS and are written to alert_history, then resolve; a burst of 5xx API
// events reaches email and Slack and not SMS. Prints the time from the failing event to the SMS.
// What differs from production is listed in ../test/alerting-stack.ts (timing and addresses only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingStackSkip, eventually, paymentFailuresAtZero, SMTP_PASSWORD, startAlertingStack, TWILIO, type AlertingStack } from '../support/alerting-stack.js';

const skip = alertingStackSkip();
// The wiring, with every for: and range window of the rules divided by E2E_TIME_SCALE (10 by
// default: PaymentFailures resolves 30 s after the last failure, HighErrorRate fires after 12 s;
// about a minute). When the rules fire and resolve at their real windows is proven by promtool
// (prometheus/tests); E2E_TIME_SCALE=1 runs this test on the rules as they ship, about 6 minutes.
const timeScale = Number(process.env.E2E_TIME_SCALE ?? '10');
if (!Number.isFinite(timeScale) || timeScale < 1) throw new Error(`E2E_TIME_SCALE must be a number >= 1, not ${process.env.E2E_TIME_SCALE}`);
const minute = 60_000 / timeScale;

describe.skipIf(skip !== undefined)(`alerting end to end${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let stack: AlertingStack;

  beforeAll(async () => {
    stack = await startAlertingStack({ timeScale });
    await paymentFailuresAtZero(stack);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('pages for payment failures by email, Slack and SMS, records the history, then resolves; a 5xx burst reaches email and Slack only', async () => {
    const { smtp, slack, twilio } = stack;

    // 1. Payment failures.
    const failedAt = Date.now();
    await stack.insertEvents([1, 2, 3].map((i) => ({ event_type: 'payment_failure', event_data: { provider: 'stripe', reason: 'card_declined', order_id: `o-${i}`, amount: 12.5 } })));

    const sms = await twilio.waitFor((m) => m.body.startsWith('FIRING PaymentFailures'), 60_000, 'the PaymentFailures SMS');
    const eventToSms = sms.at - failedAt;
    const mail = await smtp.waitFor((m) => m.subject.startsWith('[FIRING] PaymentFailures'), 20_000, 'the PaymentFailures email');
    const slackMessage = await slack.waitFor((m) => m.text.includes('[FIRING] PaymentFailures'), 20_000, 'the PaymentFailures Slack message');

    expect(sms.value).toMatchObject({ to: TWILIO.to[0], from: TWILIO.from, auth: `${TWILIO.accountSid}:${TWILIO.authToken}` });
    expect(sms.value.body).toMatch(/^FIRING PaymentFailures critical: About \d+ payment failures in the last 5 minutes\. Since \d\d:\d\dZ$/);
    expect(sms.value.body.length).toBeLessThanOrEqual(160);

    expect(mail.value).toMatchObject({ to: ['oncall@example.com'], tls: true, auth: { username: 'resend', password: SMTP_PASSWORD } });
    expect(mail.value.subject).toBe('[FIRING] PaymentFailures (critical): Payments are failing.');
    for (const text of [mail.value.text, slackMessage.value.text]) {
      expect(text).toMatch(/About \d+ payment failures in the last 5 minutes\./); // what and the value
      expect(text).toContain('the whole system'); // where
      expect(text).toMatch(/Since:?\*? +\d{4}-\d\d-\d\d \d\d:\d\d/); // since when
      expect(text).toContain('docs/runbooks.md#paymentfailures');
      expect(text).toContain('/d/cc-system-health/system-health?viewPanel=panel-104');
      expect(text).toMatch(/http:\/\/localhost:9464\/alerts\/ack\?fingerprint=[0-9a-f]{16}/); // how to acknowledge: who, never a silence
      expect(text).not.toContain('/#/silences/new');
    }
    expect(slackMessage.value.body).toMatchObject({ channel: '#alerts', username: 'Connect alerts' });

    const triggered = await eventually(async () => {
      const { rows } = await stack.exporter.pool.query<{ status: string; severity: string; notifications: number; starts_at: Date }>(
        `SELECT status, severity, notifications, starts_at FROM alert_history WHERE alertname = 'PaymentFailures'`);
      return rows.length > 0 ? rows : undefined;
    }, 20_000, 'the PaymentFailures row in alert_history');
    expect(triggered).toHaveLength(1);
    expect(triggered[0]).toMatchObject({ status: 'firing', severity: 'critical' });

    // 2. A burst of API errors: 30 of 40 requests answered 5xx (the low-traffic guard wants 20).
    await stack.insertEvents([
      ...Array.from({ length: 30 }, () => ({ event_type: 'api_latency', event_data: { endpoint: '/api/orders', latency_ms: 180, status: 503, method: 'POST' } })),
      ...Array.from({ length: 10 }, () => ({ event_type: 'api_latency', event_data: { endpoint: '/api/menu', latency_ms: 40, status: 200, method: 'GET' } })),
    ]);

    // 3. No more payment failures: once out of the window, resolved everywhere.
    const resolvedSms = await twilio.waitFor((m) => m.body.startsWith('RESOLVED PaymentFailures'), 7 * minute + 30_000, 'the resolved PaymentFailures SMS');
    const resolvedMail = await smtp.waitFor((m) => m.subject.startsWith('[RESOLVED] PaymentFailures'), 20_000, 'the resolved PaymentFailures email');
    const resolvedSlack = await slack.waitFor((m) => m.text.includes('[RESOLVED] PaymentFailures'), 20_000, 'the resolved PaymentFailures Slack message');
    expect(resolvedSms.value.body).toMatch(/^RESOLVED PaymentFailures critical: was: Payments are failing\. Since \d\d:\d\dZ$/);
    expect(resolvedMail.value.text).toContain('RESOLVED: this alert is no longer firing; nothing to do.');
    expect(resolvedMail.value.text).toMatch(/Resolved: +\d{4}-\d\d-\d\d/);
    expect(resolvedSlack.value.text).toContain('*Resolved*');
    expect(resolvedSlack.value.body.attachments).toEqual([expect.objectContaining({ color: 'good' })]);
    const resolvedRow = await eventually(async () => {
      const { rows } = await stack.exporter.pool.query<{ status: string; ends_at: Date | null; notifications: number }>(
        `SELECT status, ends_at, notifications FROM alert_history WHERE alertname = 'PaymentFailures'`);
      return rows.length === 1 && rows[0]!.status === 'resolved' ? rows[0] : undefined;
    }, 20_000, 'the resolved PaymentFailures row');
    expect(resolvedRow.ends_at).not.toBeNull();
    expect(resolvedRow.notifications).toBeGreaterThanOrEqual(2);

    // 4. HighErrorRate reached email and Slack, and no SMS.
    const errorMail = await smtp.waitFor((m) => m.subject.startsWith('[FIRING] HighErrorRate'), 4 * minute + 30_000, 'the HighErrorRate email');
    const errorSlack = await slack.waitFor((m) => m.text.includes('[FIRING] HighErrorRate'), 20_000, 'the HighErrorRate Slack message');
    expect(errorMail.value.subject).toBe('[FIRING] HighErrorRate (critical): More than 5% of API requests are failing.');
    expect(errorMail.value.text).toContain('75% of API requests failed (5xx or network) over the last 15 minutes');
    expect(errorSlack.value.text).toContain('docs/runbooks.md#higherrorrate');
    // An SMS would have left with the same flush: 3 s after the email (long past by now when
    // HighErrorRate fired before PaymentFailures resolved, as it does at every scale).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, errorMail.at + 3000 - Date.now())));
    expect(twilio.received.filter((m) => m.value.body.includes('HighErrorRate'))).toEqual([]);
    expect(twilio.received.map((m) => m.value.body.split(':')[0])).toEqual(['FIRING PaymentFailures critical', 'RESOLVED PaymentFailures critical']);

    const summary = [
      `alerting e2e [${stack.backend}, durations /${stack.timeScale}]:`,
      `payment failure -> SMS ${eventToSms} ms`,
      `-> email ${mail.at - failedAt} ms`,
      `-> Slack ${slackMessage.at - failedAt} ms`,
      `-> resolved SMS ${resolvedSms.at - failedAt} ms`,
    ].join(' ');
    process.stdout.write(`\n${summary}\n`);
    // Paged at once: the alert went straight to firing at the first evaluation that saw the failure,
    // never pending (no for: to wait out). The time it took is the figure above, not an assertion.
    const since = `${Math.ceil((Date.now() - failedAt) / 1000) + 30}s`;
    expect(await stack.query(`max_over_time(ALERTS{alertname="PaymentFailures", alertstate="pending"}[${since}])`)).toEqual([]);
    expect(await stack.query(`max_over_time(ALERTS{alertname="PaymentFailures", alertstate="firing"}[${since}])`)).toHaveLength(1);
  }, 12 * minute + 240_000);
});

// Paging latency on the shipped files, unmodified: prometheus.yml's intervals (the exporter scraped
// and the rules evaluated every 5 s), alertmanager.yml's grouping timers (critical routes wait 5 s),
// the rules as generated. Only addresses and secret-file paths differ from production. A payment
// failure's row is committed; the test waits for its SMS, email and Slack message and prints how
// long each took (docs/alerting.md, "Paging latency"). The bound is the configuration's (5 + 5 +
// 5 s, checked in rules.test.ts); a wall clock is not asserted here: a busy machine is slower.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingStackSkip, paymentFailuresAtZero, startAlertingStack, type AlertingStack } from '../support/alerting-stack.js';

const skip = alertingStackSkip();

describe.skipIf(skip !== undefined)(`paging latency on the shipped files${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let stack: AlertingStack;

  beforeAll(async () => {
    stack = await startAlertingStack({ shippedTimers: true });
    await paymentFailuresAtZero(stack, 'cc:events_total:max', 60_000);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('pages a payment failure by SMS, email and Slack, and prints how long after its row committed', async () => {
    await stack.insertEvents([{ event_type: 'payment_failure', event_data: { provider: 'stripe', reason: 'card_declined', order_id: 'o-latency', amount: 20 } }]);
    const committed = Date.now();
    const sms = await stack.twilio.waitFor((m) => m.body.startsWith('FIRING PaymentFailures'), 120_000, 'the PaymentFailures SMS');
    const mail = await stack.smtp.waitFor((m) => m.subject.startsWith('[FIRING] PaymentFailures'), 60_000, 'the PaymentFailures email');
    const slack = await stack.slack.waitFor((m) => m.text.includes('[FIRING] PaymentFailures'), 60_000, 'the PaymentFailures Slack message');
    const s = (at: number) => `${((at - committed) / 1000).toFixed(1)} s`;
    process.stdout.write(`\npaging latency on the shipped files: row -> SMS ${s(sms.at)}, email ${s(mail.at)}, Slack ${s(slack.at)} (bound: 5 s scrape + 5 s evaluation + 5 s group_wait, plus delivery)\n`);
    expect(sms.value.body).toMatch(/^FIRING PaymentFailures critical: /);
  }, 240_000);
});

// Alert semantics on-call can rely on, end to end with the real Prometheus and Alertmanager
// (durations of the rules divided by TIME_SCALE, 40: PaymentFailures' 5-minute window lasts 7.5 s,
// the gauges' 2-minute lookback 3 s, three scrapes; Alertmanager's grouping timers short, as in
// ../support/alerting-stack.ts; SMS_COOLDOWN 40 s, from the window below):
// 1. A flapping PaymentFailures: every occurrence reaches email and the history, the SMS pages at
//    most once per cooldown (its RESOLVED too, only for the occurrence that paged), an
//    acknowledged occurrence is recorded with who, and the first occurrence after the cooldown
//    pages again.
// 2. The exporter loses Postgres (a TCP proxy cut) while StuckOrders fires, longer than the
//    gauges' lookback, and the stuck order is handled meanwhile: no RESOLVED during the outage,
//    one after it. Needs the Postgres server (the proxy).
// The two run side by side, each on a stack of its own (database, exporter, Prometheus,
// Alertmanager, sinks): the outage must not reach the first one's SMS bridge, which pages
// regardless of its cooldown while Postgres cannot answer.
import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { alertingStackSkip, eventually, paymentFailuresAtZero, startAlertingStack, type AlertingStack } from '../support/alerting-stack.js';
import { backends } from '../support/databases.js';
import { samples } from '../support/metrics.js';
import { startProxy, type DbProxy } from '../support/proxy.js';

const server = backends.find((b) => b.kind === 'postgres')!;
const skip = server.skip ?? alertingStackSkip();
const TIME_SCALE = 40;
/** PaymentFailures' window (5m) and the gauges' lookback (held(), ExporterDatabaseUnreachable: 2m), divided by TIME_SCALE */
const PAYMENT_WINDOW_MS = 300_000 / TIME_SCALE;
const LOOKBACK_MS = 120_000 / TIME_SCALE;
// An occurrence lasts about the window plus a few seconds (scrape, evaluation, group_wait, then the
// resolution's group_interval): the third fires about two occurrences after the first page. The
// cooldown must outlast that on a busy machine: 4 windows + 10 s, twice as long (40 s, whole seconds).
const COOLDOWN_MS = Math.ceil((4 * PAYMENT_WINDOW_MS + 10_000) / 1000) * 1000;
/** The database outage: 5 times the lookback, and past ExporterDatabaseUnreachable's for: (5m / TIME_SCALE). */
const OUTAGE_MS = 5 * LOOKBACK_MS;
const ACK_TOKEN = 'trust-e2e-ack-token-0001';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skip !== undefined)(`alert semantics with the real Prometheus and Alertmanager [postgres]${skip ? ` (skipped: ${skip})` : ''}`, () => {
  /** the flapping alert's stack, and a connection to its database */
  let stack: AlertingStack;
  let direct: pg.Client;
  /** the outage's: its exporter reaches Postgres through the proxy */
  let outageStack: AlertingStack;
  let outageDirect: pg.Client;
  let proxy: DbProxy;

  beforeAll(async () => {
    const env = { SMS_COOLDOWN: `${COOLDOWN_MS / 1000}s`, ACK_AUTH_TOKEN: ACK_TOKEN, DB_CONNECT_TIMEOUT_MS: '500' };
    const [paging, outage] = await Promise.allSettled([
      startAlertingStack({ timeScale: TIME_SCALE, env }),
      startAlertingStack({
        timeScale: TIME_SCALE,
        env,
        exporterConnectionString: async (db) => {
          proxy = await startProxy(db.connectionString);
          return proxy.connectionString;
        },
      }),
    ]);
    if (paging.status === 'fulfilled') stack = paging.value;
    if (outage.status === 'fulfilled') outageStack = outage.value;
    for (const started of [paging, outage]) if (started.status === 'rejected') throw started.reason;
    direct = new pg.Client({ connectionString: stack.db.connectionString });
    outageDirect = new pg.Client({ connectionString: outageStack.db.connectionString });
    await Promise.all([direct.connect(), outageDirect.connect()]);
    await Promise.all([stack, outageStack].map((s) => paymentFailuresAtZero(s, 'cc:events_total:max')));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([direct?.end(), outageDirect?.end()]);
    await Promise.all([stack?.stop(), outageStack?.stop()]);
    await proxy?.close();
  }, 60_000);

  const fail = (order: string) => direct.query(
    `INSERT INTO runtime_metrics (event_type, event_data) VALUES ('payment_failure', $1)`,
    [JSON.stringify({ provider: 'stripe', reason: 'card_declined', order_id: order, amount: 10 })],
  );
  const mails = (prefix: string, of = stack) => of.smtp.received.filter((m) => m.value.subject.startsWith(prefix));
  const pages = () => stack.twilio.received.map((m) => m.value.body).filter((b) => b.includes('PaymentFailures')).map((b) => b.split(':')[0]);

  it.concurrent('pages a flapping alert once per cooldown, records every occurrence and who acknowledged one, and pages again after the cooldown', async ({ expect }) => {
    // Occurrence 1: paged, and its end too.
    await fail('o-1');
    const firstPage = await stack.twilio.waitFor((m) => m.body.startsWith('FIRING PaymentFailures'), 60_000, 'the first SMS');
    await stack.twilio.waitFor((m) => m.body.startsWith('RESOLVED PaymentFailures'), 60_000, 'its RESOLVED SMS');

    // Occurrences 2 and 3 within the cooldown: email and history, no SMS. Occurrence 2 acknowledged.
    for (const [n, order] of [[2, 'o-2'], [3, 'o-3']] as const) {
      await fail(order);
      await eventually(async () => (mails('[FIRING] PaymentFailures').length >= n ? true : undefined), 60_000, `the FIRING email of occurrence ${n}`);
      if (n === 2) {
        // Acknowledging by name takes every firing occurrence: wait until the history holds
        // occurrence 1 resolved (its webhook can come late on a busy machine) and 2 firing.
        const historyIs = `SELECT count(*) = 2 AND count(*) FILTER (WHERE status = 'firing') = 1 AND bool_and(status = 'resolved') FILTER (WHERE starts_at = (SELECT min(starts_at) FROM alert_history WHERE alertname = 'PaymentFailures')) AS ready
                             FROM alert_history WHERE alertname = 'PaymentFailures'`;
        await eventually(async () => ((await direct.query<{ ready: boolean }>(historyIs)).rows[0]?.ready ? true : undefined), 60_000, 'occurrence 1 resolved and occurrence 2 firing in the history');
        const res = await fetch(`${stack.exporter.url}/alerts/ack`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ACK_TOKEN}` },
          body: JSON.stringify({ alertname: 'PaymentFailures', by: 'sam', note: 'provider incident' }),
        });
        expect(res.status).toBe(200);
      }
      await eventually(async () => (mails('[RESOLVED] PaymentFailures').length >= n ? true : undefined), 60_000, `the RESOLVED email of occurrence ${n}`);
    }
    expect(pages()).toEqual(['FIRING PaymentFailures critical', 'RESOLVED PaymentFailures critical']);

    // Occurrence 4, after the cooldown: paged again.
    const wait = firstPage.at + COOLDOWN_MS + 2000 - Date.now();
    if (wait > 0) await sleep(wait);
    await fail('o-4');
    await eventually(async () => (pages().length === 3 ? true : undefined), 60_000, 'the SMS of occurrence 4');
    await eventually(async () => (pages().length === 4 ? true : undefined), 60_000, 'the RESOLVED SMS of occurrence 4');
    expect(pages()).toEqual(['FIRING PaymentFailures critical', 'RESOLVED PaymentFailures critical', 'FIRING PaymentFailures critical', 'RESOLVED PaymentFailures critical']);

    const { rows } = await direct.query<{ status: string; acknowledged_by: string | null; ack_note: string | null }>(
      `SELECT status, acknowledged_by, ack_note FROM alert_history WHERE alertname = 'PaymentFailures' ORDER BY starts_at`);
    expect(rows).toEqual([
      { status: 'resolved', acknowledged_by: null, ack_note: null },
      { status: 'resolved', acknowledged_by: 'sam', ack_note: 'provider incident' },
      { status: 'resolved', acknowledged_by: null, ack_note: null },
      { status: 'resolved', acknowledged_by: null, ack_note: null },
    ]);
    expect(mails('[FIRING] PaymentFailures')).toHaveLength(4);
    const suppressed = await samples(stack.exporter.registry, 'cc_sms_suppressed_total');
    expect(suppressed).toMatchObject({ 'reason=cooldown': 2, 'reason=not_paged': 2 });
    process.stdout.write(`\ntrust e2e: 4 occurrences in ${((Date.now() - firstPage.at) / 1000).toFixed(0)} s: 4 FIRING emails, 2 SMS pages (cooldown ${COOLDOWN_MS / 1000} s), suppressed ${JSON.stringify(suppressed)}\n`);
  }, 300_000);

  it.concurrent('sends no RESOLVED for a state alert while the exporter cannot reach Postgres, and one after it when the condition cleared', async ({ expect }) => {
    const stack = outageStack;
    const direct = outageDirect;
    const { rows: [store] } = await direct.query<{ id: string }>(`INSERT INTO stores (slug, name) VALUES ('downtown', 'Downtown') RETURNING id`);
    await direct.query(`INSERT INTO orders (store_id, status, created_at, updated_at) VALUES ($1, 'pending', now() - interval '50 minutes', now() - interval '50 minutes')`, [store!.id]);
    await stack.smtp.waitFor((m) => m.subject.startsWith('[FIRING] StuckOrders'), 60_000, 'the StuckOrders email');

    // Postgres gone for the exporter for OUTAGE_MS: 5 times the gauges' lookback, past ExporterDatabaseUnreachable's for:.
    const cutAt = Date.now();
    await proxy.cut();
    await direct.query(`UPDATE orders SET status = 'completed', updated_at = now()`); // handled meanwhile
    await stack.smtp.waitFor((m) => m.subject.startsWith('[FIRING] ExporterDatabaseUnreachable'), 60_000, 'ExporterDatabaseUnreachable');
    await sleep(Math.max(0, cutAt + OUTAGE_MS - Date.now()));
    const restoredAt = Date.now();
    expect(mails('[RESOLVED] StuckOrders', stack).filter((m) => m.at >= cutAt)).toEqual([]);
    expect((await stack.query('ALERTS{alertname="StuckOrders", alertstate="firing"}')).length).toBe(1);
    await proxy.restore();

    const resolved = await stack.smtp.waitFor((m) => m.subject.startsWith('[RESOLVED] StuckOrders'), 60_000, 'the StuckOrders RESOLVED after the outage');
    expect(resolved.at).toBeGreaterThanOrEqual(restoredAt);
    process.stdout.write(`\ntrust e2e: outage of ${((restoredAt - cutAt) / 1000).toFixed(0)} s, no RESOLVED during it; RESOLVED ${((resolved.at - restoredAt) / 1000).toFixed(1)} s after Postgres came back\n`);
  }, 180_000);
});

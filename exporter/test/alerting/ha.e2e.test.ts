// Paging you can trust, end to end with the real binaries: two exporter replicas (built
// processes) on one Postgres database, both scraped by an HA pair of Prometheus servers with the
// same rules, which send to a two-peer Alertmanager cluster; a foreign client scrapes both
// exporters 20 times a second throughout. Three payment-failure occurrences, one of them written
// while both exporters were SIGKILLed and before they came back, one of a reason never seen
// before: each gives exactly one FIRING notification per channel (email, Slack, SMS), then one
// RESOLVED. Rule durations are divided by TIME_SCALE (the 5-minute window becomes 7.5 s), the
// Alertmanager grouping timers and peer timeout are short, as in ../support/alerting-stack.ts;
// everything else is the project's own files. Needs concurrent sessions: the Postgres server only.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, prometheusConfigCopy, startAlertmanager, startPrometheus, whichBinary, writeAlertmanagerConfigCopy, type RunningProcess } from '../../src/ops/stack/processes.js';
import { alertingStackSkip, eventually, webhookEnv, writeAlertmanagerSecrets, writeScaledRules } from '../support/alerting-stack.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { spawnExporter, startExporter, type RunningExporter, type SpawnedExporter } from '../support/exporter.js';
import { startSlackSink, startSmtpSink, startTwilioSink, type SlackMessage, type Sink, type SmtpSink, type TwilioSink } from '../support/sinks.js';

const server = backends.find((b) => b.kind === 'postgres')!;
const skip = server.skip ?? alertingStackSkip();
const TIME_SCALE = 40;
/** How long after the last notification a duplicate is still waited for: 10 peer timeouts, 5 group intervals. */
const QUIET_MS = 10_000;
/** a foreign scraper's pause between scrapes of each exporter: 20 Hz */
const FOREIGN_SCRAPE_MS = 50;

describe.skipIf(skip !== undefined)(`paging with replicas, an HA Prometheus pair and an Alertmanager cluster${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-ha-'));
  const stops: (() => Promise<unknown>)[] = [];
  let db: TestDatabase;
  let hooks: RunningExporter;
  const replicas: { port: number; process?: SpawnedExporter }[] = [];
  let prometheus: RunningProcess[] = [];
  let smtp: SmtpSink;
  let slack: Sink<SlackMessage>;
  let twilio: TwilioSink;
  let foreignScrapes = 0;
  let scraping = true;
  let foreign: Promise<void> | undefined;

  const replicaEnv = (port: number, name: string) => ({
    DATABASE_URL: db.connectionString,
    EXPORTER_PORT: String(port),
    EXPORTER_INSTANCE: name,
    COLLECTORS: 'events',
    LOG_LEVEL: 'warn',
  });
  const startReplica = async (i: number) => {
    replicas[i]!.process = await spawnExporter(replicaEnv(replicas[i]!.port, `replica-${i}`));
  };
  const kill = async (i: number) => {
    await replicas[i]!.process!.stop('SIGKILL');
  };
  const query = async (p: RunningProcess, promql: string) => {
    const res = await fetch(`${p.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result;
  };
  const paymentFailure = (reason: string) =>
    hooks.pool.query(`INSERT INTO public.runtime_metrics (event_type, event_data) VALUES ('payment_failure', $1)`, [
      JSON.stringify({ provider: 'stripe', reason, order_id: 'o-1', amount: 12.5 }),
    ]);
  /** Every PaymentFailures notification so far, per channel, as FIRING / RESOLVED in order. */
  const notifications = () => ({
    sms: twilio.received.map((m) => m.value.body).filter((b) => b.includes('PaymentFailures')).map((b) => b.split(' ')[0]!),
    email: smtp.received.map((m) => m.value.subject).filter((s) => s.includes('PaymentFailures')).map((s) => /^\[(\w+)/.exec(s)![1]!),
    slack: slack.received.map((m) => m.value.text).filter((t) => t.includes('PaymentFailures')).map((t) => /\[(FIRING|RESOLVED)/.exec(t)![1]!),
  });
  /**
   * Waits until every channel has sent the k-th FIRING and the k-th RESOLVED and checks each
   * channel sent exactly k of each, alternating. With `quiet`, it first waits well past the second
   * Alertmanager's peer timeout (a duplicate would come then) and a few group intervals. The
   * occurrences before the last need no such wait: a duplicate that comes after their check, while
   * the next occurrence runs, still breaks the next check's list (each compares every notification
   * so far), and the last occurrence waits it out.
   */
  const occurrence = async (k: number, what: string, { quiet = false } = {}) => {
    const counted = (list: string[], kind: string) => list.filter((x) => x === kind).length;
    for (const kind of ['FIRING', 'RESOLVED']) {
      await eventually(async () => {
        const n = notifications();
        return [n.sms, n.email, n.slack].every((list) => counted(list, kind) >= k) ? true : undefined;
      }, 120_000, `${what}: ${kind} number ${k} on every channel`);
    }
    if (quiet) await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const expected = Array.from({ length: k }, () => ['FIRING', 'RESOLVED']).flat();
    const n = notifications();
    expect({ sms: n.sms, email: n.email, slack: n.slack }, what).toEqual({ sms: expected, email: expected, slack: expected });
  };

  beforeAll(async () => {
    const prometheusBinary = whichBinary('prometheus')!;
    const alertmanagerBinary = whichBinary('prometheus-alertmanager', 'alertmanager')!;
    db = await createTestDatabase('postgres');
    stops.push(() => db.stop());
    [smtp, slack, twilio] = await Promise.all([startSmtpSink(), startSlackSink(), startTwilioSink()]);
    stops.push(() => smtp.close(), () => slack.close(), () => twilio.close());

    // Alertmanager's webhooks (SMS, alert history) on an exporter that is not a scrape target.
    // The SMS cooldown is off: this test counts every occurrence's page (the cooldown has its own
    // e2e, trust.e2e.test.ts).
    hooks = await startExporter(db.connectionString, { COLLECTORS: 'deployments', ...webhookEnv(twilio.url), SMS_COOLDOWN: '0s' });
    stops.push(() => hooks.stop());

    for (let i = 0; i < 2; i++) replicas.push({ port: await freePort() });
    await Promise.all(replicas.map((_, i) => startReplica(i)));
    stops.push(async () => {
      await Promise.all(replicas.map((r) => r.process?.stop('SIGKILL')));
    });

    const secrets = writeAlertmanagerSecrets(dir, slack.url);
    const amConfig = writeAlertmanagerConfigCopy(join(dir, 'alertmanager'), {
      exporterUrl: hooks.url,
      smarthost: `127.0.0.1:${smtp.port}`,
      secretsDir: secrets,
      timing: { groupWait: '1s', groupInterval: '2s' },
    });
    const am = [
      { port: await freePort(), gossip: await freePort() },
      { port: await freePort(), gossip: await freePort() },
    ];
    const alertmanagers = await Promise.all(am.map((a, i) => startAlertmanager(alertmanagerBinary, {
      configFile: amConfig,
      dataDir: join(dir, `am-data-${i}`),
      port: a.port,
      env: { SSL_CERT_FILE: smtp.caFile },
      // The peer timeout shrinks with the rules' windows (15 s against 5 minutes in production): a
      // second peer that waits longer than the whole alert lives sends its own copy, by design.
      cluster: { port: a.gossip, peers: am.filter((_, j) => j !== i).map((b) => `127.0.0.1:${b.gossip}`), peerTimeout: '1s' },
    })));
    stops.push(...alertmanagers.map((a) => () => a.stop()));
    const rules = writeScaledRules(dir, TIME_SCALE);
    const ports = [await freePort(), await freePort()];
    prometheus = await Promise.all(ports.map((port, i) => {
      const configFile = join(dir, `prometheus-${i}.yml`);
      writeFileSync(configFile, prometheusConfigCopy({
        exporter: replicas.map((r) => `127.0.0.1:${r.port}`),
        alertmanager: am.map((a) => `127.0.0.1:${a.port}`),
        self: `127.0.0.1:${port}`,
        scrapeInterval: '1s',
        evaluationInterval: '1s',
        ruleFiles: [rules],
      }));
      return startPrometheus(prometheusBinary, { configFile, dataDir: join(dir, `prom-data-${i}`), port });
    }));
    stops.push(...prometheus.map((p) => () => p.stop()));
    // The peers have found each other: each sees a ready cluster of two. Prometheus starts before
    // this wait: it finds its targets only about 5 s after its start, time that overlaps the
    // peers' settling (about 10 s; an Alertmanager notifies nobody before it has settled).
    for (const a of alertmanagers) {
      await eventually(async () => {
        const status = (await (await fetch(`${a.url}/api/v2/status`)).json()) as { cluster: { status: string; peers: unknown[] } };
        return status.cluster.status === 'ready' && status.cluster.peers.length === 2 ? true : undefined;
      }, 60_000, `${a.name} in a ready cluster of two peers`);
    }

    // The foreign scraper: a person with curl in a loop, 20 times a second on each replica.
    foreign = (async () => {
      while (scraping) {
        await Promise.all(replicas.map((r) => fetch(`http://127.0.0.1:${r.port}/metrics`).then((res) => res.text()).then(() => foreignScrapes++, () => undefined)));
        await new Promise((resolve) => setTimeout(resolve, FOREIGN_SCRAPE_MS));
      }
    })();
    stops.push(async () => {
      scraping = false;
      await foreign;
    });

    // Both Prometheus servers see both replicas, and the de-duplicated payment-failure total at 0.
    for (const p of prometheus) {
      await eventually(async () => {
        const up = await query(p, 'sum(up{job="cc-exporter"})');
        const total = await query(p, 'cc:events_total:max{event_type="payment_failure"}');
        return up[0]?.value[1] === '2' && total[0]?.value[1] === '0' ? true : undefined;
      }, 60_000, `${p.name} scraping both replicas with the payment-failure total at 0`);
    }
  }, 180_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('one FIRING and one RESOLVED per channel for each occurrence: replicas, both exporters SIGKILLed, a new reason, a 20 Hz foreign scraper', async () => {
    // 1. Both replicas up, both Prometheus servers alerting, both Alertmanagers notifying.
    await paymentFailure('card_declined');
    await occurrence(1, 'a failure with both replicas up');

    // 2. Both exporters die without a word; a failure is written before either is back.
    await Promise.all([kill(0), kill(1)]);
    await paymentFailure('card_declined');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await Promise.all([startReplica(0), startReplica(1)]);
    await occurrence(2, 'a failure written while both exporters were down');

    // 3. A reason never seen before: a label set that did not exist, while the foreign client scrapes.
    const before = foreignScrapes;
    await paymentFailure('processor_unavailable');
    await occurrence(3, 'a failure of a new reason', { quiet: true });
    expect(foreignScrapes - before).toBeGreaterThan(100); // the foreign scraper kept going meanwhile

    // Each Prometheus counted 3 failures, no more: the record never went down (no false reset).
    for (const p of prometheus) {
      const [total] = await query(p, 'cc:events_total:max{event_type="payment_failure"}');
      expect(total?.value[1], p.name).toBe('3');
      const [resets] = await query(p, `resets(cc:events_total:max{event_type="payment_failure"}[10m])`);
      expect(resets?.value[1], p.name).toBe('0');
    }
    const { rows } = await hooks.pool.query<{ n: string }>(`SELECT count(*) AS n FROM public.runtime_metrics WHERE event_type = 'payment_failure'`);
    expect(Number(rows[0]!.n)).toBe(3);
    process.stdout.write(`[ha] 3 occurrences, ${foreignScrapes} foreign scrapes: ${JSON.stringify(notifications())}\n`);
  }, 600_000);
});

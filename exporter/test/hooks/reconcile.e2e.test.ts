// alert_history reconciled with a real Alertmanager's GET /api/v2/alerts: silenced and inhibited
// alerts, which never reach a webhook, get their rows and states; rows whose alert Alertmanager
// no longer holds are closed (an alert resolved while silenced sends nothing); a second pass
// changes nothing; an Alertmanager that does not answer closes nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, startAlertmanager, whichBinary, type RunningProcess } from '../../src/ops/stack/processes.js';
import { eventually } from '../support/alerting-stack.js';
import { connect, createTestDatabase, describeEachBackend, silentLogger, type TestDatabase } from '../support/databases.js';
import { startSlackSink, type SlackMessage, type Sink } from '../support/sinks.js';
import { findTool } from '../support/tools.js';
import { UPSERT_ALERT_HISTORY, UPSERT_BEFORE_010, writeAlertHistory } from '../../src/hooks/alert-history.js';
import { parseWebhookPayload } from '../../src/hooks/payload.js';
import { createReconciler } from '../../src/hooks/reconcile.js';

const alertmanagerTool = findTool('prometheus-alertmanager');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeEachBackend(`alert history reconciled with Alertmanager${alertmanagerTool.skip ? ` (skipped: ${alertmanagerTool.skip})` : ''}`, (kind) => {
  let db: TestDatabase;
  let client: pg.Client;
  let am: RunningProcess;
  let hook: Sink<SlackMessage>;
  const dir = mkdtempSync(join(tmpdir(), 'cc-reconcile-'));

  beforeAll(async () => {
    if (alertmanagerTool.skip) return;
    db = await createTestDatabase(kind);
    client = await connect(db);
    hook = await startSlackSink(); // records every JSON body: here, Alertmanager's webhook payloads
    const config = join(dir, 'alertmanager.yml');
    writeFileSync(config, [
      'route:',
      '  receiver: nobody',
      '  group_wait: 1h',
      '  routes:',
      '    - { receiver: hook, matchers: [alertname=~"Flap.*"], group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }',
      'receivers:',
      '  - name: nobody',
      `  - { name: hook, webhook_configs: [{ url: "${hook.url}/hook", send_resolved: true }] }`,
      'inhibit_rules:',
      '  - { source_matchers: [severity="critical"], target_matchers: [severity="warning"], equal: [alertname] }',
    ].join('\n'));
    am = await startAlertmanager(whichBinary('prometheus-alertmanager', 'alertmanager')!, { configFile: config, dataDir: join(dir, 'data'), port: await freePort() });
  }, 60_000);
  afterAll(async () => {
    await am?.stop();
    await hook?.close();
    await client?.end();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${am.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json().catch(() => ({})) as Promise<Record<string, unknown>>;
  };
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const alert = (labels: Record<string, string>, endsAt?: string) => ({ labels, annotations: { summary: `${labels.alertname} summary` }, startsAt, ...(endsAt ? { endsAt } : {}), generatorURL: 'http://prometheus:9090/graph' });
  const rows = async () => (await client.query<{ alertname: string; status: string; am_state: string | null; silenced_by: string[] | null; inhibited_by: string[] | null; receiver: string; ends_at: Date | null }>(
    'SELECT alertname, status, am_state, silenced_by, inhibited_by, receiver, ends_at FROM alert_history ORDER BY alertname, severity')).rows;
  const reconciler = (urls: string[], graceMs: number) => createReconciler({ db: client, options: { urls, intervalMs: 60_000, graceMs }, registry: new Registry(), logger: silentLogger });

  it('keeps writing the history on a database not yet migrated to 010 (no muted_resolution column)', async () => {
    expect(UPSERT_ALERT_HISTORY).toContain('muted_resolution');
    expect(UPSERT_BEFORE_010).not.toContain('muted_resolution');
    expect(UPSERT_BEFORE_010).toContain('notifications    = h.notifications + 1,\n       last_received_at = now()');
  });

  it.skipIf(alertmanagerTool.skip !== undefined)('records silenced and inhibited alerts, closes rows whose alert is gone, twice the same, and closes nothing when an Alertmanager does not answer', async () => {
    // A row a webhook wrote for an alert Alertmanager does not hold (it resolved while silenced).
    await writeAlertHistory(client, parseWebhookPayload({
      version: '4', receiver: 'alert-history', status: 'firing', groupKey: 'g',
      alerts: [{ status: 'firing', labels: { alertname: 'ResolvedWhileSilenced', severity: 'critical' }, annotations: {}, startsAt, fingerprint: 'aaaa000000000001' }],
    }));
    // In Alertmanager: one silenced, one inhibited by a critical one of the same name.
    await post('/api/v2/alerts', [
      alert({ alertname: 'PaymentFailures', severity: 'critical' }),
      alert({ alertname: 'LowDiskSpace', severity: 'warning' }),
      alert({ alertname: 'LowDiskSpace', severity: 'critical' }),
    ]);
    const silence = await post('/api/v2/silences', {
      matchers: [{ name: 'alertname', value: 'PaymentFailures', isRegex: false, isEqual: true }],
      startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'sam', comment: 'on it',
    });
    await eventually(async () => {
      const res = (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as { status: { state: string } }[];
      const ours = res.filter((a) => !(a as unknown as { labels: Record<string, string> }).labels.alertname?.startsWith('Flap'));
      return ours.length === 3 && ours.filter((a) => a.status.state === 'suppressed').length === 2 ? true : undefined;
    }, 30_000, 'Alertmanager holding one silenced and one inhibited alert');

    // Within the grace period nothing is closed: a restarted Alertmanager is empty for a minute.
    const first = await reconciler([am.url], 60_000).runOnce();
    expect(first).toMatchObject({ ok: true, inserted: 3, closed: 0 });
    expect(await rows()).toEqual([
      expect.objectContaining({ alertname: 'LowDiskSpace', status: 'firing', am_state: 'active', receiver: '(reconciled)' }),
      expect.objectContaining({ alertname: 'LowDiskSpace', status: 'firing', am_state: 'inhibited', inhibited_by: [expect.stringMatching(/^[0-9a-f]{16}$/)] }),
      expect.objectContaining({ alertname: 'PaymentFailures', status: 'firing', am_state: 'silenced', silenced_by: [silence.silenceID] }),
      expect.objectContaining({ alertname: 'ResolvedWhileSilenced', status: 'firing', am_state: null }),
    ]);

    // The silenced alert resolves (Prometheus sends it with an end): Alertmanager drops it and sends nothing.
    await post('/api/v2/alerts', [alert({ alertname: 'PaymentFailures', severity: 'critical' }, new Date(Date.now() - 1000).toISOString())]);
    await eventually(async () => ((await (await fetch(`${am.url}/api/v2/alerts?filter=alertname%3D%22PaymentFailures%22`)).json()) as unknown[]).length === 0 ? true : undefined, 30_000, 'the resolved alert gone from the API');

    // One Alertmanager of two does not answer: nothing is closed, whatever the grace.
    const partial = await reconciler([am.url, 'http://127.0.0.1:1'], 0).runOnce();
    expect(partial).toMatchObject({ ok: false, closed: 0 });
    expect((await rows()).filter((r) => r.status === 'resolved')).toEqual([]);

    const second = await reconciler([am.url], 0).runOnce();
    expect(second).toMatchObject({ ok: true, inserted: 0, closed: 2, replayed: 0 }); // PaymentFailures is still silenced
    const after = await rows();
    expect(after.find((r) => r.alertname === 'PaymentFailures')).toMatchObject({ status: 'resolved', am_state: 'gone' });
    expect(after.find((r) => r.alertname === 'ResolvedWhileSilenced')).toMatchObject({ status: 'resolved', am_state: 'gone' });
    expect(after.find((r) => r.alertname === 'PaymentFailures')?.ends_at).toBeInstanceOf(Date);

    // Again: nothing changes, nothing is reopened.
    expect(await reconciler([am.url], 0).runOnce()).toMatchObject({ ok: true, inserted: 0, closed: 0 });
    expect(await rows()).toEqual(after.map((r) => ({ ...r })));

    // A late resolved notification for a row the reconciler closed sets its real end.
    await writeAlertHistory(client, parseWebhookPayload({
      version: '4', receiver: 'alert-history', status: 'resolved', groupKey: 'g',
      alerts: [{ status: 'resolved', labels: { alertname: 'ResolvedWhileSilenced', severity: 'critical' }, annotations: {}, startsAt, endsAt: '2026-01-01T00:00:00Z', fingerprint: 'aaaa000000000001' }],
    }));
    expect((await rows()).find((r) => r.alertname === 'ResolvedWhileSilenced')?.ends_at?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  }, 120_000);

  it.skipIf(alertmanagerTool.skip !== undefined)('an alert that resolved while silenced pages its next occurrence: its resolution is sent to Alertmanager once no silence matches it (without that, Alertmanager 0.25 swallows the FIRING)', async () => {
    // FlapReconciled: the reconciler sees it silenced. FlapBare: silenced between two passes, so the
    // reconciler never knows; it shows what Alertmanager does on its own.
    const flap = (alertname: string, start: Date, end?: Date) => ({
      labels: { alertname, severity: 'critical' }, annotations: { summary: alertname }, startsAt: start.toISOString(),
      ...(end ? { endsAt: end.toISOString() } : {}), generatorURL: 'http://prometheus:9090/graph',
    });
    const payloadOf = (m: SlackMessage) => m.body as { status?: string; groupLabels?: Record<string, string>; alerts?: { status: string; startsAt: string }[] };
    const firingOf = (alertname: string, startsAt: Date) => hook.received.filter((m) => payloadOf(m.value).status === 'firing'
      && payloadOf(m.value).groupLabels?.alertname === alertname && Date.parse(payloadOf(m.value).alerts?.[0]?.startsAt ?? '') === startsAt.getTime()); // Go drops trailing zeros of fractions
    const reconcileNow = () => reconciler([am.url], 0).runOnce();
    const state = async (alertname: string) => ((await (await fetch(`${am.url}/api/v2/alerts?filter=alertname%3D%22${alertname}%22`)).json()) as { status: { state: string } }[]).map((a) => a.status.state);
    const silence = async (alertname: string) => String((await post('/api/v2/silences', {
      matchers: [{ name: 'alertname', value: alertname, isRegex: false, isEqual: true }],
      startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'sam', comment: 'on it',
    })).silenceID);
    const names = ['FlapReconciled', 'FlapBare'];
    const GROUP_INTERVAL_MS = 1000;

    const first = new Date(Date.now() - 5000);
    await post('/api/v2/alerts', names.map((n) => flap(n, first)));
    await eventually(async () => (names.every((n) => firingOf(n, first).length > 0) ? true : undefined), 20_000, 'the first FIRING of both');

    const silences = [await silence('FlapReconciled')];
    await eventually(async () => ((await state('FlapReconciled')).join() === 'suppressed' ? true : undefined), 20_000, 'FlapReconciled silenced');
    expect((await reconcileNow()).ok).toBe(true);
    silences.push(await silence('FlapBare'));
    await eventually(async () => ((await state('FlapBare')).join() === 'suppressed' ? true : undefined), 20_000, 'FlapBare silenced');
    // Both groups flush while silenced and firing (what makes Alertmanager forget nothing), then resolve.
    await sleep(3 * GROUP_INTERVAL_MS);
    await post('/api/v2/alerts', names.map((n) => flap(n, first, new Date(Date.now() - 1000))));
    await eventually(async () => ((await state('FlapReconciled')).length + (await state('FlapBare')).length === 0 ? true : undefined), 20_000, 'both resolved');
    await sleep(3 * GROUP_INTERVAL_MS);
    expect(await reconcileNow()).toMatchObject({ ok: true, replayed: 0 }); // still silenced: nothing sent yet
    expect((await client.query(`SELECT alertname, status, am_state, muted_resolution FROM alert_history WHERE alertname LIKE 'Flap%' ORDER BY alertname`)).rows).toEqual([
      { alertname: 'FlapBare', status: 'resolved', am_state: 'gone', muted_resolution: null },
      { alertname: 'FlapReconciled', status: 'resolved', am_state: 'gone', muted_resolution: 'pending' },
    ]);

    // The silences end: FlapReconciled's resolution goes to Alertmanager, which notifies it.
    for (const id of silences) expect((await fetch(`${am.url}/api/v2/silence/${id}`, { method: 'DELETE' })).status).toBe(200);
    const replayedAt = Date.now();
    expect(await reconcileNow()).toMatchObject({ ok: true, replayed: 1 });
    await hook.waitFor((m) => payloadOf(m).status === 'resolved' && payloadOf(m).groupLabels?.alertname === 'FlapReconciled', 20_000, 'the resolution of FlapReconciled');
    expect(hook.received.filter((m) => m.at >= replayedAt && payloadOf(m.value).groupLabels?.alertname === 'FlapBare')).toEqual([]);
    expect((await client.query(`SELECT muted_resolution FROM alert_history WHERE alertname = 'FlapReconciled'`)).rows).toEqual([{ muted_resolution: 'replayed' }]);
    expect(await reconcileNow()).toMatchObject({ ok: true, replayed: 0 }); // once

    // Both fire again: FlapReconciled pages; Alertmanager swallows FlapBare's FIRING (it still
    // counts the alert as notified firing, until repeat_interval: 1h here).
    await sleep(2 * GROUP_INTERVAL_MS);
    const again = new Date();
    await post('/api/v2/alerts', names.map((n) => flap(n, again)));
    await eventually(async () => (firingOf('FlapReconciled', again).length > 0 ? true : undefined), 20_000, 'the FIRING of the next FlapReconciled occurrence');
    await sleep(8 * GROUP_INTERVAL_MS);
    expect(firingOf('FlapBare', again)).toEqual([]);
  }, 120_000);
});

// Every query of every generated dashboard, run against the real thing: the alerting stack of
// the alerting tests (exporter, real Prometheus and Alertmanager, a Postgres server or PGlite)
// with the demo data and a few rounds of demo traffic (events, order transitions, OTLP spans, a
// payment failure that fires an alert through Alertmanager into alert_history, and the alert cc-ops
// pushes when a rollback fails, straight into Alertmanager through its API). PromQL goes to
// Prometheus with Grafana's variables and intervals substituted; SQL runs with Grafana's macros
// expanded, in a read-only transaction as the read-only cc_grafana role that Grafana logs in as.
// Each query must succeed, and return data: the traffic touches every panel.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushAlerts } from '../../exporter/src/ops/deploy/alertmanager.js';
import { alertingStackSkip, eventually, startAlertingStack, type AlertingStack } from '../../exporter/test/support/alerting-stack.js';
import { waitUntilSettled } from '../../exporter/test/support/databases.js';
import { jsonRequest, post } from '../../exporter/test/support/otlp.js';
import { DASHBOARDS_DIR } from '../src/generate.js';
import { DASHBOARDS } from '../src/index.js';
import { expandPromql, expandSql, labelValuesOf, panelsOf, queryPrometheus, targetsOf, type DashboardTarget, type Expansion } from '../src/verify.js';

const skip = alertingStackSkip();

const PAGES = ['/menu/:category', '/checkout', '/orders/:id/track'];
const VITALS: [string, number, string][] = [
  ['LCP', 2100, 'good'], ['LCP', 4600, 'poor'], ['INP', 180, 'good'], ['INP', 320, 'needs-improvement'],
  ['CLS', 0.02, 'good'], ['CLS', 0.3, 'poor'], ['FCP', 1200, 'good'], ['TTFB', 900, 'needs-improvement'],
];

/** One round of what a busy minute of the app writes. */
async function demoTraffic(stack: AlertingStack, round: number): Promise<void> {
  const rows: { event_type: string; event_data: Record<string, unknown> }[] = [];
  // Production's release and staging's candidate, as the receiver stores a resource; the rest names none.
  const web = [{ service: 'web', env: 'production', release: '1.9.1' }, { service: 'web', env: 'staging', release: '1.10.0-rc.1' }][round % 2]!;
  for (const page of PAGES) rows.push({ event_type: 'page_view', event_data: { page, referrer: '', userAgent: 'Mozilla/5.0 (demo)', ...web } });
  // LCP and INP as web-otel's attribution build sends them: the element, the input type.
  const attribution = (metric: string) =>
    metric === 'LCP' ? { attribution: { element: 'main > img.hero', url: 'https://cdn.example/hero.webp', load_state: 'complete' } }
      : metric === 'INP' ? { attribution: { element: 'button.add-to-cart', interaction_type: 'pointer' } } : {};
  for (const [metric, value, rating] of VITALS) for (const page of PAGES) rows.push({ event_type: 'performance', event_data: { metric, value, rating, page, ...web, ...attribution(metric) } });
  for (let i = 0; i < 6; i++) {
    rows.push({ event_type: 'api_latency', event_data: { endpoint: '/rest/v1/orders', latency_ms: 80 + 40 * i, status: 200, method: 'GET' } });
    rows.push({ event_type: 'api_latency', event_data: { endpoint: '/rest/v1/menu_items', latency_ms: 60 + 300 * i, status: 200, method: 'GET' } });
  }
  rows.push({ event_type: 'api_latency', event_data: { endpoint: '/rest/v1/orders', latency_ms: 2400, status: 503, method: 'POST' } });
  rows.push({ event_type: 'api_latency', event_data: { endpoint: '/functions/v1/create-payment', latency_ms: 10_000, status: 0, method: 'POST' } });
  rows.push({ event_type: 'user_action', event_data: { action: 'add_to_cart', metadata: { item: 3 } } });
  rows.push({ event_type: 'edge_function', event_data: { function_name: 'send-order-email', execution_time_ms: 140, status: 'success', service: 'edge-functions', env: 'production', release: 'c0ffee5' } });
  if (round === 0) {
    rows.push({ event_type: 'payment_failure', event_data: { provider: 'stripe', reason: 'card_declined', order_id: 'o-demo', amount: 23.5 } });
    rows.push({ event_type: 'backup', event_data: { status: 'success', tables: 12, rows: 1234, duration_ms: 5400 } });
  }
  await stack.insertEvents(rows);
  // Errors carry the session they happened in (the Errors card counts affected sessions).
  await stack.exporter.pool.query(
    `INSERT INTO public.runtime_metrics (event_type, session_id, event_data)
     SELECT 'error', 'sess-' || g % 2, jsonb_build_object('error_type', 'TypeError', 'message', 'cart is undefined', 'stack', null, 'url', '/checkout')
       FROM generate_series(1, 3) g`,
  );
  // Orders move on: the status trigger writes order_event rows (transitions, completions, revenue).
  await stack.exporter.pool.query(
    `UPDATE public.orders SET status = CASE status WHEN 'pending' THEN 'confirmed' WHEN 'confirmed' THEN 'preparing'
                                              WHEN 'preparing' THEN 'ready' ELSE 'completed' END
      WHERE id IN (SELECT id FROM public.orders WHERE status IN ('pending', 'confirmed', 'preparing', 'ready') ORDER BY id LIMIT 4)`,
  );
  // Scheduled maintenance, as pg_cron or the exporter's scheduler runs it: heals the seed's stuck orders.
  if (round === 2) await stack.exporter.pool.query('SELECT public.run_system_maintenance()');
  if (round === 1) {
    await stack.exporter.pool.query(`UPDATE public.orders SET status = 'cancelled' WHERE id = (SELECT id FROM public.orders WHERE status = 'pending' ORDER BY created_at LIMIT 1)`);
  }
  // Browser spans through the OTLP receiver, and one it must reject (no end time).
  const otlp = jsonRequest([{ name: 'page_view', startMs: Date.now() - 50, endMs: Date.now(), attributes: { page: '/checkout' } }]) as {
    resourceSpans: [{ scopeSpans: [{ spans: Record<string, unknown>[] }] }];
  };
  const bad = structuredClone(otlp);
  delete bad.resourceSpans[0].scopeSpans[0].spans[0]!.endTimeUnixNano;
  expect((await post(stack.exporter.url, otlp)).status).toBe(200);
  expect((await post(stack.exporter.url, bad)).status).toBe(200);
}


describe.skipIf(skip !== undefined)(`dashboard queries against real data${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let stack: AlertingStack;
  let startedAt: number;

  const prometheus = (path: string, params: Record<string, string>) => queryPrometheus(stack.prometheus.url, path, params);

  beforeAll(async () => {
    startedAt = Date.now();
    stack = await startAlertingStack({ seed: true });
    // Prometheus holds the payment-failure total at 0 before the first failure, so increase() sees it.
    await eventually(async () => {
      const result = await stack.query('cc_events_total{event_type="payment_failure"}');
      return result.length === 1 && result[0]!.value[1] === '0' ? true : undefined;
    }, 30_000, 'cc_events_total{event_type="payment_failure"} at 0 in Prometheus');
    for (let round = 0; round < 4; round++) {
      await demoTraffic(stack, round);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    await stack.exporter.pool.query('SELECT public.refresh_order_health()');
    await waitUntilSettled(stack.exporter.pool);
    // Prometheus has seen the traffic, the payment failure has fired and reached alert_history.
    await eventually(async () => ((await stack.query('sum(cc_events_total{event_type="performance"})'))[0]?.value[1] === String(4 * VITALS.length * PAGES.length) ? true : undefined), 60_000, 'every performance event in Prometheus');
    await eventually(async () => ((await stack.query('ALERTS{alertname="PaymentFailures", alertstate="firing"}')).length > 0 ? true : undefined), 60_000, 'PaymentFailures firing');
    await eventually(async () => {
      const { rows } = await stack.exporter.pool.query(`SELECT 1 FROM public.alert_history WHERE alertname = 'PaymentFailures'`);
      return rows.length > 0 ? true : undefined;
    }, 60_000, 'PaymentFailures in alert_history');
    // A rollback that failed, as cc-ops reports it: pushed to Alertmanager, never in Prometheus's rules.
    const now = Date.now();
    await pushAlerts({ url: stack.alertmanager.url, token: undefined }, [{
      labels: { alertname: 'DeploymentRollbackFailed', severity: 'critical', environment: 'production' },
      annotations: { summary: 'A failed deployment could not be rolled back.', description: 'e2e' },
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 3600_000).toISOString(),
    }], 10_000);
    await eventually(async () => {
      const { rows } = await stack.exporter.pool.query(`SELECT 1 FROM public.alert_history WHERE alertname = 'DeploymentRollbackFailed' AND status = 'firing'`);
      return rows.length > 0 ? true : undefined;
    }, 60_000, 'the pushed DeploymentRollbackFailed in alert_history');
    await new Promise((resolve) => setTimeout(resolve, 3000)); // a few more scrapes and evaluations
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  const boards = Object.keys(DASHBOARDS).map((file) => [file, JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard] as const);
  const all = (board: Dashboard) => Object.fromEntries((board.templating?.list ?? []).map((v) => [v.name, '.*']));

  it('every variable lists the values the demo data has', async () => {
    const expected: Record<string, string[]> = {
      store: ['downtown', 'harbor', 'uptown'],
      environment: ['production', 'staging'],
      page: PAGES,
      service: ['web', 'edge-functions'],
      release: ['1.9.1', '1.10.0-rc.1', 'c0ffee5', 'unknown'],
    };
    const seen = new Set<string>();
    for (const [file, board] of boards) {
      for (const v of board.templating?.list ?? []) {
        const lv = labelValuesOf(v);
        if (!lv) continue;
        const res = await fetch(`${stack.prometheus.url}/api/v1/label/${lv.label}/values?${new URLSearchParams({ 'match[]': lv.metric })}`);
        const values = ((await res.json()) as { data: string[] }).data;
        expect(values, `${file} $${v.name}`).toEqual(expect.arrayContaining(expected[v.name]!));
        seen.add(v.name);
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(expected).sort());
  });

  it('every PromQL target runs and returns data', async () => {
    const end = Date.now() / 1000;
    const start = startedAt / 1000 - 30;
    const report: string[] = [];
    let count = 0;
    for (const [file, board] of boards) {
      const expansion: Expansion = {
        variables: all(board),
        // Grafana: $__rate_interval = max($__interval + scrape interval, 4 × scrape interval); 1 s scrapes here.
        interval: '2s',
        rateInterval: '10s',
        range: `${Math.ceil(end - start)}s`,
      };
      const targets = targetsOf(file, board).filter((t) => t.kind === 'prometheus' && !t.where.startsWith('variable:'));
      for (const t of targets) {
        const query = expandPromql(t.query, expansion);
        const data = t.instant
          ? await prometheus('/api/v1/query', { query, time: String(end) })
          : await prometheus('/api/v1/query_range', { query, start: String(start), end: String(end), step: '2' });
        const finite = data.result.filter((s) => (s.value ? [s.value] : s.values ?? []).some(([, v]) => Number.isFinite(Number(v))));
        if (finite.length === 0) report.push(`${describeTarget(t)}: no data for ${query}`);
        count += 1;
      }
    }
    expect(report).toEqual([]);
    process.stdout.write(`\n${count} Prometheus targets of ${boards.length} dashboards returned data\n`);
    expect(count).toBeGreaterThan(40);
  });

  it('every SQL target runs as cc_grafana, read-only, with its macros expanded, and returns rows', async () => {
    const range = { from: new Date(Date.now() - 24 * 3600_000), to: new Date(Date.now() + 60_000) };
    const report: string[] = [];
    const counts: Record<string, number> = {};
    const client = await stack.exporter.pool.connect();
    try {
      for (const [file, board] of boards) {
        for (const t of targetsOf(file, board).filter((t) => t.kind === 'sql')) {
          const text = expandSql(t.query, range, all(board));
          await client.query('BEGIN READ ONLY');
          try {
            await client.query('SET LOCAL ROLE cc_grafana');
            const { rows } = await client.query<Record<string, unknown>>(text);
            if (rows.length === 0) report.push(`${describeTarget(t)}: no rows`);
            counts[`${file} / ${t.where}`] = rows.length;
            if (t.where === 'Errors') expect(rows[0]).toMatchObject({ Errors: '12', 'Affected sessions': '2' });
          } catch (err) {
            report.push(`${describeTarget(t)}: ${(err as Error).message}`);
          } finally {
            await client.query('ROLLBACK');
          }
        }
      }
    } finally {
      client.release();
    }
    expect(report).toEqual([]);
    process.stdout.write(`\nSQL targets and their rows: ${JSON.stringify(counts)}\n`);
    expect(Object.keys(counts).length).toBeGreaterThanOrEqual(6);
  });

  it("the Active alerts card and table show every alert Alertmanager holds, the one cc-ops pushed too", async () => {
    const board = boards.find(([file]) => file === 'system-health.json')![1];
    const activeAlerts = (type: string): Panel => panelsOf(board).find((p) => p.title === 'Active alerts' && p.type === type)!;
    const [card, table] = [activeAlerts('stat'), activeAlerts('table')];
    type Target = { refId: string; expr?: string; rawSql?: string; expression?: string };
    const targets = (panel: Panel) => (panel.targets ?? []) as unknown as Target[];
    const end = Date.now() / 1000;
    const expansion: Expansion = { variables: all(board), interval: '2s', rateInterval: '10s', range: '600s' };
    /** A panel's queries as Grafana runs them: PromQL instant, SQL as cc_grafana read-only; rows by refId. */
    const run = async (panel: Panel): Promise<Record<string, Record<string, unknown>[]>> => {
      const out: Record<string, Record<string, unknown>[]> = {};
      for (const t of targets(panel)) {
        if (t.expr !== undefined) {
          const data = await prometheus('/api/v1/query', { query: expandPromql(t.expr, expansion), time: String(end) });
          out[t.refId] = data.result.map((r) => ({ ...r.metric, Value: Number(r.value![1]) }));
        } else if (t.rawSql !== undefined) {
          const client = await stack.exporter.pool.connect();
          try {
            await client.query('BEGIN READ ONLY');
            await client.query('SET LOCAL ROLE cc_grafana');
            out[t.refId] = (await client.query<Record<string, unknown>>(expandSql(t.rawSql, { from: new Date(Date.now() - 3600_000), to: new Date() }, all(board)))).rows;
          } finally {
            await client.query('ROLLBACK');
            client.release();
          }
        }
      }
      return out;
    };
    /** Grafana's math expressions, the sums the card uses: `$A + $B` of one-value inputs. */
    const evaluate = (expression: string, results: Record<string, Record<string, unknown>[]>): number =>
      expression.split('+').map((term) => {
        const rows = results[term.trim().replace(/^\$/, '')];
        if (!rows || rows.length !== 1) throw new Error(`${term} is not one value: ${JSON.stringify(rows)}`);
        const numbers = Object.values(rows[0]!).filter((v) => typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v)));
        if (numbers.length !== 1) throw new Error(`${term} has not one number column: ${JSON.stringify(rows)}`);
        return Number(numbers[0]);
      }).reduce((a, b) => a + b, 0);

    // Prometheus never has the pushed alert: ALERTS alone would miss it.
    expect(await stack.query('ALERTS{alertname="DeploymentRollbackFailed"}')).toEqual([]);

    // Alertmanager's own list (active, silenced and inhibited), the heartbeat aside, is the truth.
    const seen = await eventually(async () => {
      const res = await fetch(`${stack.alertmanager.url}/api/v2/alerts`);
      const held = ((await res.json()) as { labels: Record<string, string> }[]).map((a) => a.labels).filter((l) => l.alertname !== 'Watchdog');
      const cardResults = await run(card);
      const expressions = Object.fromEntries(targets(card).filter((t) => t.expression).map((t) => [t.refId, evaluate(t.expression!, cardResults)]));
      const rows = Object.values(await run(table)).flat();
      const shown = { firing: expressions.Firing, critical: expressions.Critical, names: rows.map((r) => String(r.alertname)).sort() };
      const truth = { firing: held.length, critical: held.filter((l) => l.severity === 'critical').length, names: held.map((l) => l.alertname!).sort() };
      if (JSON.stringify(shown) !== JSON.stringify(truth)) throw new Error(`the panels show ${JSON.stringify(shown)}, Alertmanager holds ${JSON.stringify(truth)}`);
      return shown;
    }, 60_000, 'the Active alerts card and table to show what Alertmanager holds');
    expect(seen.names).toEqual(expect.arrayContaining(['DeploymentRollbackFailed', 'PaymentFailures']));
    expect(seen.critical).toBeGreaterThanOrEqual(2);
    process.stdout.write(`\nActive alerts: ${JSON.stringify(seen)}\n`);
  }, 120_000);

  it('cc_grafana cannot write, even through a query a dashboard could hold', async () => {
    const client = await stack.exporter.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL ROLE cc_grafana');
      await expect(client.query(`DELETE FROM public.deployment_log`)).rejects.toThrow(/permission denied/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});

function describeTarget(t: DashboardTarget): string {
  return `${t.dashboard} / ${t.where}${t.refId ? ` (${t.refId})` : ''}`;
}

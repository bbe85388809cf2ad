// Every stat panel of every dashboard on an empty database: the exporter, the real Prometheus
// and Alertmanager of the alerting tests, a migrated database with no stores, orders, events,
// deploys or backups. A stat panel that shows a number there would show it just as well when
// the data it needs is missing (a broken writer, a wrong selector): a "0 errors", "100 %" or
// "0 s since the last backup" that looks healthy and means nothing. Each one must show "No data"
// (its noValue: "No data" or "never", checked in dashboards.test.ts), except the few listed
// below whose number is the truth about an empty database, each with the reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingStackSkip, eventually, startAlertingStack, type AlertingStack } from '../../exporter/test/support/alerting-stack.js';
import { DASHBOARDS_DIR } from '../src/generate.js';
import { DASHBOARDS } from '../src/index.js';
import { EXPRESSION_TYPE, expandPromql, expandSql, panelsOf, queryPrometheus, type Expansion } from '../src/verify.js';

const skip = alertingStackSkip();

/**
 * Stat panels whose number on an empty database is true, not a default: counts of things that
 * exist (none do), and readings of the exporter and database themselves, which are there.
 */
const TRUE_ON_EMPTY: Record<string, string> = {
  'system-health.json: Active alerts': 'Prometheus and Alertmanager answer and hold no alert of Connect: none fires',
  'system-health.json: Order health': 'active and stuck orders counted in the database, where there are none',
  'system-health.json: Alerts in Alertmanager': "Alertmanager's own gauges: the Watchdog, and nothing suppressed or unprocessed",
  'exporter.json: Exporter up': "Prometheus' scrape of the exporter, which answers",
  'exporter.json: Postgres reachable': "the exporter's cc_up: the database answers",
  'exporter.json: Event cursor backlog': 'runtime_metrics rows the exporter has not counted yet: there are none',
  'exporter.json: Version': "the exporter's build info",
};

type Target = { refId?: string; expr?: string; rawSql?: string; expression?: string; type?: string; hide?: boolean; instant?: boolean; datasource?: { type?: string } };


describe.skipIf(skip !== undefined)(`stat panels on an empty database${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let stack: AlertingStack;

  const prometheus = (path: string, params: Record<string, string>) => queryPrometheus(stack.prometheus.url, path, params);

  beforeAll(async () => {
    stack = await startAlertingStack({ seed: false });
    // Prometheus has scraped the exporter and evaluated the rules a few times.
    await eventually(async () => ((await stack.query('cc_up == 1')).length === 1 ? true : undefined), 60_000, 'cc_up 1 in Prometheus');
    await eventually(async () => ((await stack.query('count_over_time(cc_up[1m]) >= 5')).length === 1 ? true : undefined), 60_000, 'five scrapes in Prometheus');
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  /** What a stat panel shows, as Grafana computes it: the numbers of its visible queries, or none (its noValue). */
  async function shown(board: Dashboard, panel: Panel): Promise<number[]> {
    const variables = Object.fromEntries((board.templating?.list ?? []).map((v) => [v.name, '.*']));
    const end = Date.now() / 1000;
    const expansion: Expansion = { variables, interval: '2s', rateInterval: '10s', range: '300s' };
    const results: Record<string, number[]> = {};
    const targets = (panel.targets ?? []) as Target[];
    for (const [i, t] of targets.entries()) {
      const refId = t.refId ?? String(i);
      if (t.expr !== undefined) {
        const query = expandPromql(t.expr, expansion);
        const data = t.instant
          ? await prometheus('/api/v1/query', { query, time: String(end) })
          : await prometheus('/api/v1/query_range', { query, start: String(end - 300), end: String(end), step: '2' });
        // Each series' last finite value (the stat panel's lastNotNull).
        results[refId] = data.result.flatMap((s) => {
          const finite = (s.value ? [s.value] : s.values ?? []).map(([, v]) => Number(v)).filter(Number.isFinite);
          return finite.length ? [finite.at(-1)!] : [];
        });
      } else if (t.rawSql !== undefined) {
        const client = await stack.exporter.pool.connect();
        try {
          await client.query('BEGIN READ ONLY');
          await client.query('SET LOCAL ROLE cc_grafana');
          const { rows } = await client.query<Record<string, unknown>>(expandSql(t.rawSql, { from: new Date(Date.now() - 24 * 3600_000), to: new Date() }, variables));
          results[refId] = rows.flatMap((row) =>
            Object.entries(row)
              .filter(([column, v]) => column !== 'time' && v !== null && v !== '' && Number.isFinite(Number(v)) && typeof v !== 'boolean' && !(v instanceof Date))
              .map(([, v]) => Number(v)),
          );
        } finally {
          await client.query('ROLLBACK');
          client.release();
        }
      }
    }
    const values: number[] = [];
    for (const [i, t] of targets.entries()) {
      const refId = t.refId ?? String(i);
      if (t.hide) continue;
      if (t.datasource?.type === EXPRESSION_TYPE && t.type === 'math' && t.expression !== undefined) {
        // Grafana's math on an input with no data has no data.
        const terms = t.expression.split('+').map((term) => results[term.trim().replace(/^\$/, '')] ?? []);
        if (terms.every((v) => v.length === 1)) values.push(terms.reduce((a, v) => a + v[0]!, 0));
      } else {
        values.push(...(results[refId] ?? []));
      }
    }
    return values;
  }

  it('every stat panel shows "No data" but those whose number is the truth about an empty database', async () => {
    const numbers: Record<string, number[]> = {};
    const noData: string[] = [];
    for (const file of Object.keys(DASHBOARDS)) {
      const board = JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard;
      for (const panel of panelsOf(board).filter((p) => p.type === 'stat')) {
        const key = `${file}: ${panel.title}`;
        const values = await shown(board, panel);
        if (values.length) numbers[key] = values;
        else noData.push(key);
      }
    }
    process.stdout.write(`\nstat panels on an empty database: ${JSON.stringify({ numbers, noData }, null, 2)}\n`);
    expect(Object.keys(numbers).sort()).toEqual(Object.keys(TRUE_ON_EMPTY).sort());
    expect(noData.length).toBeGreaterThan(0);
  }, 120_000);
});

// "Web Vitals": how fast the app feels to its users, by page. Per vital: the 75th percentile by
// page (the value Google's Core Web Vitals assess) with the good / poor thresholds drawn, and the
// share of good, needs-improvement and poor samples over time; for LCP and INP, the elements
// their samples are attributed to, per page (SQL on the rows).
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import {
  baseDashboard, datasourceVariable, deployAnnotations, environmentVariable, labelVariable, postgresVariable, prom, releaseVariable, serviceVariable, sql, tablePanel, TELEMETRY,
  timeseriesPanel,
} from './common.js';
import { THRESHOLDS, type Thresholds, type VitalName } from './thresholds.js';

export const WEB_VITALS_UID = 'cc-web-vitals';

export interface Vital {
  name: VitalName;
  metric: string;
  unit: string;
  /** good up to the first value, poor from the second, in the metric's unit (web.dev thresholds, from thresholds.json) */
  thresholds: [number, number];
  about: string;
  /** which route a sample is labelled with (web-otel decides) */
  page: string;
  /** what its attribution names, when a table of the top ones is shown */
  attributed?: string;
}

/** The vitals and their thresholds (thresholds.json: milliseconds, which the histograms have in seconds; CLS unitless). */
export function vitals({ webVitals }: Thresholds = THRESHOLDS): Vital[] {
  const inUnit = (v: Omit<Vital, 'thresholds'>): Vital => {
    const { good, poor } = webVitals[v.name];
    return { ...v, thresholds: v.unit === units.Seconds ? [good / 1000, poor / 1000] : [good, poor] };
  };
  return [
    inUnit({ name: 'LCP', metric: 'cc_web_vital_lcp_seconds', unit: units.Seconds, about: 'Largest Contentful Paint: when the main content has rendered.', page: 'the landing page', attributed: 'elements' }),
    inUnit({ name: 'INP', metric: 'cc_web_vital_inp_seconds', unit: units.Seconds, about: 'Interaction to Next Paint: how quickly the page responds to taps, clicks and keys.', page: 'the page where the interaction happened', attributed: 'interaction targets' }),
    inUnit({ name: 'CLS', metric: 'cc_web_vital_cls', unit: units.NoUnit, about: 'Cumulative Layout Shift: how much the content jumps around (unitless).', page: 'the page where the largest shift happened' }),
    inUnit({ name: 'FCP', metric: 'cc_web_vital_fcp_seconds', unit: units.Seconds, about: 'First Contentful Paint: when anything first renders.', page: 'the landing page' }),
    inUnit({ name: 'TTFB', metric: 'cc_web_vital_ttfb_seconds', unit: units.Seconds, about: 'Time to First Byte: how long the server took to start answering the page.', page: 'the landing page' }),
  ];
}

export const VITALS: Vital[] = vitals();

/** The dashboard, with the thresholds of thresholds.json (others only to show that they follow). */
export function webVitals(thresholds: Thresholds = THRESHOLDS): dashboard.DashboardBuilder {
  const board = baseDashboard('Web Vitals', WEB_VITALS_UID, 'Core Web Vitals measured in real browsers by web-otel: the 75th percentile by page, and how many samples were good, need improvement or poor.')
    .withVariable(datasourceVariable())
    .withVariable(postgresVariable())
    .withVariable(environmentVariable())
    .withVariable(serviceVariable())
    .withVariable(releaseVariable())
    .withVariable(labelVariable('page', 'Page', 'cc_web_vital_lcp_seconds_count', 'Pages by route template, as web vitals label them.'))
    .annotations(deployAnnotations());

  for (const vital of vitals(thresholds)) {
    const [good, poor] = vital.thresholds;
    const selector = `{page=~"$page", ${TELEMETRY}}`;
    board
      .withRow(new dashboard.RowBuilder(vital.name))
      .withPanel(
        timeseriesPanel({
          title: `${vital.name} p75 by page`,
          description: `${vital.about} 75th percentile per page (${vital.page}); good up to ${good}, poor from ${poor}${vital.unit === units.Seconds ? ' s' : ''} (the dashed lines).`,
          unit: vital.unit,
          width: 14,
          min: 0,
          thresholds: [
            [good, 'orange'],
            [poor, 'red'],
          ],
          targets: [prom(`histogram_quantile(0.75, sum by (page, le) (rate(${vital.metric}_bucket${selector}[$__rate_interval])))`, { legend: '{{page}}' })],
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: `${vital.name} rating share`,
          description: `Share of ${vital.name} samples rated good, needs-improvement and poor by web-vitals in the browser, over all selected pages.`,
          unit: units.PercentUnit,
          width: 10,
          stacked: true,
          min: 0,
          max: 1,
          targets: [
            prom(
              `sum by (rating) (rate(${vital.metric}_count${selector}[$__rate_interval])) / ignoring (rating) group_left sum(rate(${vital.metric}_count${selector}[$__rate_interval]))`,
              { legend: '{{rating}}' },
            ),
          ],
        }),
      );
    if (vital.attributed) board.withPanel(attributionPanel(vital.name, vital.attributed));
  }
  return board;
}

/**
 * The elements a vital is most often attributed to, per route, from the rows (web-otel's
 * attribution build): LCP's largest element, INP's interaction target. Never a Prometheus label:
 * selectors are an open set. Read through the read-only cc_grafana role.
 */
function attributionPanel(vital: string, what: string) {
  const scale = vital === 'CLS' ? '' : ' / 1000.0';
  return tablePanel({
    title: `${vital}: top ${what} by page`,
    description: `The ${what} ${vital} samples are attributed to, per page, with how many samples and their 75th percentile, from runtime_metrics (web-otel with webVitals: { source: webVitalsAttribution }); selectors and URLs are scrubbed of ids in the browser and again by the receiver.`,
    unit: units.String,
    width: 24,
    height: 8,
    columns: { p75: { unit: vital === 'CLS' ? units.NoUnit : units.Seconds }, Samples: { unit: units.Short } },
    sortBy: { column: 'Samples', desc: true },
    targets: [
      sql(`
        SELECT event_data ->> 'page' AS "Page",
               event_data #>> '{attribution,element}' AS "Element",
               coalesce(event_data #>> '{attribution,interaction_type}', '') AS "Interaction",
               count(*) AS "Samples",
               percentile_cont(0.75) WITHIN GROUP (ORDER BY (event_data ->> 'value')::float8)${scale} AS "p75"
          FROM public.runtime_metrics
         WHERE event_type = 'performance'
           AND upper(event_data ->> 'metric') = '${vital}'
           AND event_data #>> '{attribution,element}' IS NOT NULL
           AND $__timeFilter(created_at)
           AND event_data ->> 'page' ~ '^(\${page:regex})$'
         GROUP BY 1, 2, 3
         ORDER BY "Samples" DESC
         LIMIT 20`),
    ],
  });
}

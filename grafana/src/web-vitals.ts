// "Web Vitals": how fast the app feels to its users, by page. Per vital: the 75th percentile by
// page (the value Google's Core Web Vitals assess) with the good / poor thresholds drawn, and the
// share of good, needs-improvement and poor samples over time.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import {
  baseDashboard, datasourceVariable, deployAnnotations, environmentVariable, labelVariable, postgresVariable, prom, releaseVariable, serviceVariable, TELEMETRY, timeseriesPanel,
} from './common.js';

export const WEB_VITALS_UID = 'cc-web-vitals';

export interface Vital {
  name: string;
  metric: string;
  unit: string;
  /** good up to the first value, poor from the second (web.dev thresholds) */
  thresholds: [number, number];
  about: string;
}

export const VITALS: Vital[] = [
  { name: 'LCP', metric: 'cc_web_vital_lcp_seconds', unit: units.Seconds, thresholds: [2.5, 4], about: 'Largest Contentful Paint: when the main content has rendered.' },
  { name: 'INP', metric: 'cc_web_vital_inp_seconds', unit: units.Seconds, thresholds: [0.2, 0.5], about: 'Interaction to Next Paint: how quickly the page responds to taps, clicks and keys.' },
  { name: 'CLS', metric: 'cc_web_vital_cls', unit: units.NoUnit, thresholds: [0.1, 0.25], about: 'Cumulative Layout Shift: how much the content jumps around (unitless).' },
  { name: 'FCP', metric: 'cc_web_vital_fcp_seconds', unit: units.Seconds, thresholds: [1.8, 3], about: 'First Contentful Paint: when anything first renders.' },
  { name: 'TTFB', metric: 'cc_web_vital_ttfb_seconds', unit: units.Seconds, thresholds: [0.8, 1.8], about: 'Time to First Byte: how long the server took to start answering the page.' },
];

export function webVitals(): dashboard.DashboardBuilder {
  const board = baseDashboard('Web Vitals', WEB_VITALS_UID, 'Core Web Vitals measured in real browsers by web-otel: the 75th percentile by page, and how many samples were good, need improvement or poor.')
    .withVariable(datasourceVariable())
    .withVariable(postgresVariable())
    .withVariable(environmentVariable())
    .withVariable(serviceVariable())
    .withVariable(releaseVariable())
    .withVariable(labelVariable('page', 'Page', 'cc_web_vital_lcp_seconds_count', 'Pages by route template, as web vitals label them.'))
    .annotations(deployAnnotations());

  for (const vital of VITALS) {
    const [good, poor] = vital.thresholds;
    const selector = `{page=~"$page", ${TELEMETRY}}`;
    board
      .withRow(new dashboard.RowBuilder(vital.name))
      .withPanel(
        timeseriesPanel({
          title: `${vital.name} p75 by page`,
          description: `${vital.about} 75th percentile per page; good up to ${good}, poor from ${poor}${vital.unit === units.Seconds ? ' s' : ''} (the dashed lines).`,
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
  }
  return board;
}

import { openMetricsContentType, Registry, type OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { EventCounts, registerCounts, type MetricSpec } from './event-counts.js';

describe('registerCounts', () => {
  const specs = new Map<string, MetricSpec>([['cc_events_total', { name: 'cc_events_total', help: 'Rows counted.', type: 'counter', labelNames: ['event_type'] }]]);

  it('renders a counter in the text format under its name', async () => {
    const registry = new Registry();
    const counts = new EventCounts(specs);
    counts.inc('cc_events_total', { event_type: 'error' });
    registerCounts(registry, specs, () => counts);
    expect(await registry.metrics()).toBe('# HELP cc_events_total Rows counted.\n# TYPE cc_events_total counter\ncc_events_total{event_type="error"} 1\n');
  });

  // prom-client renames a counter cc_x_total to its family cc_x before rendering OpenMetrics and
  // appends _total to each sample: a get() that kept reporting spec.name wrote cc_events_total_total.
  it('renders a counter in a registry set to OpenMetrics as family cc_events, samples cc_events_total', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(openMetricsContentType);
    const counts = new EventCounts(specs);
    counts.inc('cc_events_total', { event_type: 'error' });
    registerCounts(registry, specs, () => counts);
    expect(await registry.metrics()).toBe('# HELP cc_events Rows counted.\n# TYPE cc_events counter\ncc_events_total{event_type="error"} 1\n# EOF\n');
  });
});

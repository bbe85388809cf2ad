// /metrics in the format the scraper asks for: the Prometheus text format 0.0.4, as always, or
// OpenMetrics 1.0.0 when the Accept header prefers it (Prometheus 2.42 asks for
// "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,
// text/plain;version=0.0.4;q=0.5,*/*;q=0.1").
//
// OpenMetrics is rendered by prom-client (a registry set to openMetricsContentType, its documented
// way), but never by the shared registry: prom-client's metrics() in OpenMetrics mode
// strips "_total" from each counter's own name for good (a text scrape after it served
// cc_sms_sent instead of cc_sms_sent_total), and it reads the registry's content type after
// awaiting each metric, so switching it per request would mix formats between concurrent
// scrapes. Each OpenMetrics scrape gets a registry of its own holding views of the shared
// metrics, which read the same values and rename only what they return.
import { openMetricsContentType, prometheusContentType, Registry, type OpenMetricsContentType } from 'prom-client';

export type ExpositionFormat = 'text' | 'openmetrics';

export const contentTypes: Readonly<Record<ExpositionFormat, string>> = {
  text: prometheusContentType,
  openmetrics: openMetricsContentType,
};

/**
 * The format to answer an Accept header with: OpenMetrics when application/openmetrics-text
 * (version 1.0.0 or none) has a higher quality than any text/plain (version 0.0.4 or none),
 * text/* or * / * it lists, the first listed on a tie; text otherwise (no header, only formats
 * this exporter does not write, such as protobuf or OpenMetrics 0.0.1 alone).
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  let best: { format: ExpositionFormat; q: number } | undefined;
  for (const range of (accept ?? '').split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim());
    const parameters = new Map<string, string>();
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq > 0) parameters.set(param.slice(0, eq).trim().toLowerCase(), param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    const format = formatOf(type.toLowerCase(), parameters.get('version'));
    if (!format) continue;
    const q = parameters.has('q') ? Number(parameters.get('q')) : 1;
    if (!Number.isFinite(q) || q <= 0 || q > 1) continue;
    if (!best || q > best.q) best = { format, q };
  }
  return best?.format ?? 'text';
}

function formatOf(type: string, version: string | undefined): ExpositionFormat | undefined {
  if (type === 'application/openmetrics-text') return version === undefined || version === '1.0.0' ? 'openmetrics' : undefined;
  if (type === 'text/plain') return version === undefined || version === '0.0.4' ? 'text' : undefined;
  return type === 'text/*' || type === '*/*' ? 'text' : undefined;
}

/** What a registered metric's get() resolves to, as prom-client's renderer reads it. */
interface MetricData {
  name: string;
  help: string;
  type: string;
  values?: { metricName?: string; value: number; labels: Record<string, string | number> }[];
  [other: string]: unknown;
}

interface RegisteredMetric {
  name: string;
  help: string;
  type: string;
  get(): Promise<MetricData>;
}

/**
 * A metric as OpenMetrics names it. A counter's family drops "_total" and prom-client writes its
 * samples as <family>_total, so each sample keeps the name the text format gives it. A counter not
 * named *_total (none of the exporter's) is written as type unknown, whose samples carry the family
 * name as it is: OpenMetrics would otherwise store it under a new name, <name>_total.
 */
export function openMetricsData(metric: MetricData): MetricData {
  if (metric.type !== 'counter') return metric;
  if (!metric.name.endsWith('_total')) return { ...metric, type: 'unknown' };
  const family = metric.name.slice(0, -'_total'.length);
  const values = metric.values?.map((v) => (v.metricName === metric.name ? { ...v, metricName: undefined } : v));
  return { ...metric, name: family, ...(values ? { values } : {}) };
}

/** A view of a shared metric for a one-scrape OpenMetrics registry: same values, OpenMetrics names. */
function openMetricsView(metric: RegisteredMetric): RegisteredMetric {
  const shape = openMetricsData({ name: metric.name, help: metric.help, type: metric.type });
  return {
    name: shape.name,
    help: metric.help,
    type: shape.type,
    get: async () => openMetricsData(await metric.get()),
  };
}

/**
 * The registry's metrics in OpenMetrics 1.0.0, ending "# EOF". The shared registry is only read:
 * its content type and its metrics' names stay as the text format needs them. (Default labels,
 * which the exporter does not set, would not carry over to the view.)
 */
export async function renderOpenMetrics(registry: Registry): Promise<string> {
  const view = new Registry<OpenMetricsContentType>();
  view.setContentType(openMetricsContentType);
  for (const metric of registry.getMetricsAsArray() as unknown as RegisteredMetric[]) {
    view.registerMetric(openMetricsView(metric) as unknown as Parameters<Registry['registerMetric']>[0]);
  }
  return escapeHelpQuotes(await view.metrics());
}

/**
 * OpenMetrics escapes a double quote in HELP text as \" (the text format does not, and prom-client
 * writes HELP alike for both): a raw quote is outside OpenMetrics' escaped-string. prom-client has
 * already doubled every backslash of the text, so each quote on a HELP line is a raw one.
 */
function escapeHelpQuotes(body: string): string {
  return body.replace(/^(# HELP \S+ )(.*)$/gm, (_line, head: string, text: string) => head + text.replaceAll('"', '\\"'));
}

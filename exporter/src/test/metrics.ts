// Reading prom-client registries in tests: a metric's samples as { 'a=x,b=y': value }.
import type { Registry } from 'prom-client';

/** A metric's samples; with `without`, summed over those labels, as PromQL's sum without (…) does. */
export async function samples(registry: Registry, name: string, without: readonly string[] = []): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const value of metric.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]) {
      if ((value.metricName ?? metric.name) !== name) continue;
      const key = Object.entries(value.labels)
        .filter(([k]) => !without.includes(k))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      out[key] = without.length > 0 ? (out[key] ?? 0) + value.value : value.value;
    }
  }
  return out;
}

/** Parse Prometheus text exposition into { 'name{labels}': value } for exact assertions. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

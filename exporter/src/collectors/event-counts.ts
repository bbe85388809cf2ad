// The event collector's counts as plain data (counters and histograms by label set), so that
// they can be committed to Postgres together with the cursor, restored exactly by the next
// process or another replica, and served through the registry as they were committed.
import type { Registry, RegistryContentType } from 'prom-client';

export type Labels = Record<string, string>;

export interface MetricSpec {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  labelNames: readonly string[];
  /** upper bounds, ascending; histograms only (+Inf is implicit) */
  buckets?: readonly number[];
  /** labels added since counts were first committed: committed series without them read "unknown" */
  addedLabels?: readonly string[];
}

interface CounterSeries {
  labels: Labels;
  value: number;
}

interface HistogramSeries {
  labels: Labels;
  /** observations per bucket, not cumulative; the last one is +Inf */
  buckets: number[];
  sum: number;
  count: number;
}

/** What is committed: version 1 of the format. */
export interface CountsData {
  format: 1;
  counters: Record<string, [Labels, number][]>;
  histograms: Record<string, [Labels, number[], number, number][]>;
}

export class CorruptCountsError extends Error {
  constructor(detail: string) {
    super(`the committed event counts are unreadable: ${detail}`);
    this.name = 'CorruptCountsError';
  }
}

export class EventCounts {
  private readonly counters = new Map<string, Map<string, CounterSeries>>();
  private readonly histograms = new Map<string, Map<string, HistogramSeries>>();

  constructor(private readonly specs: ReadonlyMap<string, MetricSpec>) {
    for (const spec of specs.values()) (spec.type === 'counter' ? this.counters : this.histograms).set(spec.name, new Map());
  }

  inc(name: string, labels: Labels, value = 1): void {
    const series = this.counters.get(name);
    if (!series) throw new Error(`no counter ${name}`);
    const key = seriesKey(this.spec(name), labels);
    const found = series.get(key);
    if (found) found.value += value;
    else series.set(key, { labels: ordered(this.spec(name), labels), value });
  }

  observe(name: string, labels: Labels, value: number): void {
    const spec = this.spec(name);
    const series = this.histograms.get(name);
    if (!series || !spec.buckets) throw new Error(`no histogram ${name}`);
    const key = seriesKey(spec, labels);
    let found = series.get(key);
    if (!found) {
      found = { labels: ordered(spec, labels), buckets: new Array<number>(spec.buckets.length + 1).fill(0), sum: 0, count: 0 };
      series.set(key, found);
    }
    const index = spec.buckets.findIndex((bound) => value <= bound);
    found.buckets[index === -1 ? spec.buckets.length : index]! += 1;
    found.sum += value;
    found.count += 1;
  }

  /** Drops one series (a counter's or a histogram's); nothing when it does not exist. */
  remove(name: string, labels: Labels): void {
    const key = seriesKey(this.spec(name), labels);
    this.counters.get(name)?.delete(key);
    this.histograms.get(name)?.delete(key);
  }

  /** The label sets of one metric's series. */
  seriesLabels(name: string): Labels[] {
    return [...(this.counters.get(name) ?? this.histograms.get(name) ?? new Map<string, { labels: Labels }>()).values()].map((s) => s.labels);
  }

  /** The value of one counter series, 0 where it does not exist. */
  counterValue(name: string, labels: Labels): number {
    return this.counters.get(name)?.get(seriesKey(this.spec(name), labels))?.value ?? 0;
  }

  /** Raises each series of one counter to its value in `other` where that is higher; true if any rose. */
  raiseTo(other: EventCounts, name: string): boolean {
    let rose = false;
    for (const s of other.counters.get(name)?.values() ?? []) {
      const mine = this.counterValue(name, s.labels);
      if (s.value > mine) {
        this.inc(name, s.labels, s.value - mine);
        rose = true;
      }
    }
    return rose;
  }

  toData(): CountsData {
    const data: CountsData = { format: 1, counters: {}, histograms: {} };
    for (const [name, series] of this.counters) data.counters[name] = [...series.values()].map((s) => [s.labels, s.value]);
    for (const [name, series] of this.histograms) data.histograms[name] = [...series.values()].map((s) => [s.labels, s.buckets, s.sum, s.count]);
    return data;
  }

  /** A copy to count into, leaving this one (what is served) as it is. */
  clone(): EventCounts {
    const copy = new EventCounts(this.specs);
    for (const [name, series] of this.counters) {
      const target = copy.counters.get(name)!;
      for (const [key, s] of series) target.set(key, { labels: s.labels, value: s.value });
    }
    for (const [name, series] of this.histograms) {
      const target = copy.histograms.get(name)!;
      for (const [key, s] of series) target.set(key, { labels: s.labels, buckets: [...s.buckets], sum: s.sum, count: s.count });
    }
    return copy;
  }

  /** Counts from committed data; throws CorruptCountsError on anything it cannot trust. */
  static fromData(specs: ReadonlyMap<string, MetricSpec>, raw: unknown): EventCounts {
    const counts = new EventCounts(specs);
    if (!isObject(raw) || raw.format !== 1 || !isObject(raw.counters) || !isObject(raw.histograms)) {
      throw new CorruptCountsError('not a format-1 object with counters and histograms');
    }
    for (const [name, list] of Object.entries(raw.counters)) {
      const spec = specs.get(name);
      if (spec?.type !== 'counter') continue; // a metric this version no longer has
      if (!Array.isArray(list)) throw new CorruptCountsError(`${name} is not a list`);
      for (const entry of list) {
        const labels = Array.isArray(entry) ? withAddedLabels(spec, entry[0]) : undefined;
        if (!Array.isArray(entry) || !validLabels(spec, labels) || !validNumber(entry[1])) throw new CorruptCountsError(`bad series of ${name}`);
        counts.inc(name, labels, entry[1]);
      }
    }
    for (const [name, list] of Object.entries(raw.histograms)) {
      const spec = specs.get(name);
      if (spec?.type !== 'histogram' || !spec.buckets) continue;
      if (!Array.isArray(list)) throw new CorruptCountsError(`${name} is not a list`);
      const target = counts.histograms.get(name)!;
      for (const entry of list) {
        const [committedLabels, buckets, sum, count] = Array.isArray(entry) ? entry : [];
        const labels = withAddedLabels(spec, committedLabels);
        const ok =
          validLabels(spec, labels) &&
          Array.isArray(buckets) &&
          buckets.length === spec.buckets.length + 1 &&
          buckets.every(validNumber) &&
          typeof sum === 'number' && Number.isFinite(sum) &&
          validNumber(count);
        if (!ok) throw new CorruptCountsError(`bad series of ${name}`);
        target.set(seriesKey(spec, labels as Labels), { labels: ordered(spec, labels as Labels), buckets: [...(buckets as number[])], sum: sum as number, count: count as number });
      }
    }
    return counts;
  }

  /** The values of one metric in prom-client's shape, for the registry to render. */
  values(name: string): { value: number; labels: Labels; metricName?: string }[] {
    const spec = this.spec(name);
    if (spec.type === 'counter') return [...this.counters.get(name)!.values()].map((s) => ({ value: s.value, labels: s.labels }));
    const out: { value: number; labels: Labels; metricName: string }[] = [];
    for (const s of this.histograms.get(name)!.values()) {
      let cumulative = 0;
      spec.buckets!.forEach((bound, i) => {
        cumulative += s.buckets[i]!;
        out.push({ metricName: `${name}_bucket`, labels: { le: String(bound), ...s.labels }, value: cumulative });
      });
      out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
      out.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
      out.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
    }
    return out;
  }

  private spec(name: string): MetricSpec {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`no metric ${name}`);
    return spec;
  }
}

/**
 * Registers one registry metric per spec that renders whatever counts `current()` returns, or
 * nothing while it returns undefined (before the committed counts were read, or while they
 * cannot be: serving anything else could go below what was served before).
 *
 * get() reports the metric's name as it is at the time, as prom-client's own metrics do: a
 * registry made for OpenMetrics renames a counter cc_x_total to its family cc_x before rendering
 * and writes the samples cc_x_total (with spec.name they came out cc_x_total_total).
 */
export function registerCounts(registry: Registry<RegistryContentType>, specs: ReadonlyMap<string, MetricSpec>, current: () => EventCounts | undefined): void {
  for (const spec of specs.values()) {
    const metric = {
      name: spec.name,
      help: spec.help,
      type: spec.type,
      get: async () => ({ name: metric.name, help: spec.help, type: spec.type, values: current()?.values(spec.name) ?? [], aggregator: 'sum' }),
      reset: () => undefined,
    };
    registry.registerMetric(metric as unknown as Parameters<Registry<RegistryContentType>['registerMetric']>[0]);
  }
}

/** The labels in the spec's order (committed data may list them otherwise), as prom-client would write them. */
function ordered(spec: MetricSpec, labels: Labels): Labels {
  return Object.fromEntries(spec.labelNames.map((n) => [n, labels[n] ?? '']));
}

function seriesKey(spec: MetricSpec, labels: Labels): string {
  return spec.labelNames.map((n) => labels[n] ?? '').join('\u0000');
}

/** Committed labels with those added to the spec since then set to "unknown" (other values as they are). */
export function withAddedLabels(spec: MetricSpec, labels: unknown): unknown {
  if (!isObject(labels) || !spec.addedLabels?.some((n) => !(n in labels))) return labels;
  const upgraded: Record<string, unknown> = { ...labels };
  for (const name of spec.addedLabels) if (!(name in upgraded)) upgraded[name] = 'unknown';
  return upgraded;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function validNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function validLabels(spec: MetricSpec, labels: unknown): labels is Labels {
  if (!isObject(labels)) return false;
  const names = Object.keys(labels);
  return names.length === spec.labelNames.length && spec.labelNames.every((n) => typeof labels[n] === 'string');
}

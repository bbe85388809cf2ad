// Counters and histograms fed from events, with every new label set first exposed at 0.
//
// increase() and rate() never see the first sample of a series that appears already at 1,
// so the first payment failure of a new reason, or the first 5xx of a new endpoint, would
// never page anyone. A label set that appears during a scrape is therefore created at 0
// for that scrape, and what happened to it is applied at the start of the next one.
import type { Counter, Histogram } from 'prom-client';

type Labels = Record<string, string>;

export class FirstSampleGate {
  /** series exposed in an earlier scrape */
  private readonly known = new Set<string>();
  /** series created at 0 during this scrape, and what to apply to them next scrape */
  private readonly fresh = new Map<string, (() => void)[]>();

  /** Mark label sets that exist from the start (created at 0 by the caller). */
  markKnown(metric: string, labels: Labels): void {
    this.known.add(key(metric, labels));
  }

  /** Apply what the previous scrape held back; call at the start of every scrape. */
  release(): void {
    for (const [series, actions] of this.fresh) {
      for (const action of actions) action();
      this.known.add(series);
    }
    this.fresh.clear();
  }

  inc(counter: Counter<string>, labels: Labels, value = 1): void {
    this.apply(
      counter,
      labels,
      () => counter.inc(labels, 0),
      () => counter.inc(labels, value),
    );
  }

  observe(histogram: Histogram<string>, labels: Labels, value: number): void {
    this.apply(
      histogram,
      labels,
      () => histogram.zero(labels),
      () => histogram.observe(labels, value),
    );
  }

  private apply(metric: Counter<string> | Histogram<string>, labels: Labels, zero: () => void, action: () => void): void {
    const series = key((metric as unknown as { name: string }).name, labels);
    if (this.known.has(series)) return action();
    let held = this.fresh.get(series);
    if (!held) {
      zero();
      held = [];
      this.fresh.set(series, held);
    }
    held.push(action);
  }
}

function key(metric: string, labels: Labels): string {
  return `${metric}\u0000${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\u0000')}`;
}

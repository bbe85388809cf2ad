// A budget of series per metric family. Rows come from browsers holding a public key, so the
// label values of the event metrics are the attacker's to choose: a cap per label still let six
// POSTs make 65,000 samples (100 endpoints x 8 methods x 5 classes), and a first-come cap that
// lasted until a restart counted the real /api/menu under "other" after a flood.
//
// Here each family has a number of series (label sets). Rules, in order:
//   1. a series already admitted is counted as it is (and becomes the most recently counted);
//   2. a known series (every value from a closed set: a declared route, a store of the stores
//      table, a known event type, and "other" / "unknown") is always admitted; when the family
//      is full it takes the place of the least recently counted unknown series, so a flood can
//      never starve it;
//   3. an unknown series takes free room, or the place of the least recently counted unknown
//      series that has not been counted for `idleMs`: a flood's values, written once, give their
//      places back to real ones an hour later, without a restart;
//   4. otherwise its unknown values read "other", and the caller counts the overflow
//      (cc_label_overflow_total{family}), which alerts. Those series stand outside the budget
//      (they take no place, so folding never pushes a real series out): there are at most as
//      many as the closed sets allow, e.g. other x 8 methods x 5 status classes.
// A series that gives its place is removed from the counts: its history stays in Prometheus,
// and it would start again from 0.
//
// Time here is the rows' own (created_at, which the database sets for browser rows), taken as a
// clock that never goes back: replicas that count the same rows make the same decisions, so the
// counts stay a function of the cursor. The state (admitted series, when each was last counted,
// the clock) is committed with the counts, so every replica and the next process apply it.
import type { Labels } from './event-counts.js';

export const OVERFLOW_VALUE = 'other';
const ALWAYS_KNOWN = new Set([OVERFLOW_VALUE, 'unknown']);

/** Whether a label value comes from a closed set (never the attacker's choice). */
export type IsKnown = (label: string, value: string) => boolean;

export interface Admission {
  /** the labels to count under: as given, or with each value that is not known as "other" */
  labels: Labels;
  /** series that gave their place: remove them from the counts */
  evicted: Labels[];
  /** the labels were folded into "other" */
  overflowed: boolean;
}

export interface SeriesBudgetOptions {
  /** series per family; a family not named here is not budgeted (its labels are closed sets) */
  budgets: ReadonlyMap<string, number>;
  /** an unknown series not counted for this long may give its place to a new one */
  idleMs: number;
}

/** Committed form: the clock (ms), and per family [labels as JSON, last counted in ms], least recently counted first. */
export interface SeriesBudgetData {
  clock: number;
  families: Record<string, [string, number][]>;
}

export class SeriesBudget {
  /** family -> series key -> last counted (ms); Map order is least recently counted first */
  private readonly admitted = new Map<string, Map<string, number>>();
  /** the latest row time seen (ms) */
  private clock = 0;

  constructor(
    private readonly options: SeriesBudgetOptions,
    data?: unknown,
  ) {
    if (data === null || typeof data !== 'object') return;
    const { clock, families } = data as { clock?: unknown; families?: unknown };
    if (typeof clock === 'number' && Number.isFinite(clock)) this.clock = clock;
    if (families === null || typeof families !== 'object') return;
    for (const [family, entries] of Object.entries(families as Record<string, unknown>)) {
      if (!options.budgets.has(family) || !Array.isArray(entries)) continue;
      const series = this.family(family);
      for (const entry of entries) {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !isLabelsJson(entry[0])) continue;
        series.set(entry[0], entry[1]);
      }
    }
  }

  /** Adds series that exist in the counts but not here (counts committed before budgets), as long idle. */
  adopt(family: string, labels: readonly Labels[]): void {
    if (!this.options.budgets.has(family)) return;
    const series = this.family(family);
    const adopted = new Map(labels.map((l) => [JSON.stringify(l), 0] as const).filter(([key]) => !series.has(key)));
    // least recently counted first: the adopted ones go before the rest
    const rest = [...series];
    series.clear();
    for (const [key, at] of [...adopted, ...rest]) series.set(key, at);
  }

  /**
   * The labels a row dated `at` (ms) is counted under; see the rules above. Without `at` (counts
   * that come from no row), the clock as it stands.
   */
  admit(family: string, labels: Labels, isKnown: IsKnown, at?: number): Admission {
    const budget = this.options.budgets.get(family);
    if (budget === undefined) return { labels, evicted: [], overflowed: false };
    if (at !== undefined && Number.isFinite(at) && at > this.clock) this.clock = at;
    const now = this.clock;
    const series = this.family(family);
    const key = JSON.stringify(labels);
    if (series.has(key)) {
      series.delete(key);
      series.set(key, now);
      return { labels, evicted: [], overflowed: false };
    }
    const known = (label: string, value: string) => ALWAYS_KNOWN.has(value) || isKnown(label, value);
    const isKnownSeries = (l: Labels) => Object.entries(l).every(([label, value]) => known(label, value));
    const evicted: Labels[] = [];
    const evictOne = (idleOnly: boolean): boolean => {
      for (const [candidate, at] of series) {
        if (idleOnly && now - at < this.options.idleMs) return false; // the rest were counted later still
        const candidateLabels = JSON.parse(candidate) as Labels;
        if (isKnownSeries(candidateLabels)) continue;
        series.delete(candidate);
        evicted.push(candidateLabels);
        return true;
      }
      return false;
    };

    if (isKnownSeries(labels)) {
      while (series.size >= budget && evictOne(false));
      series.set(key, now);
      return { labels, evicted, overflowed: false };
    }
    while (series.size >= budget && evictOne(true));
    if (series.size < budget) {
      series.set(key, now);
      return { labels, evicted, overflowed: false };
    }
    const folded = Object.fromEntries(Object.entries(labels).map(([label, value]) => [label, known(label, value) ? value : OVERFLOW_VALUE]));
    return { labels: folded, evicted, overflowed: true };
  }

  /** Series admitted in a family. */
  size(family: string): number {
    return this.admitted.get(family)?.size ?? 0;
  }

  toJSON(): SeriesBudgetData {
    return { clock: this.clock, families: Object.fromEntries([...this.admitted].map(([family, series]) => [family, [...series]])) };
  }

  clone(): SeriesBudget {
    return new SeriesBudget(this.options, this.toJSON());
  }

  private family(name: string): Map<string, number> {
    let series = this.admitted.get(name);
    if (!series) {
      series = new Map();
      this.admitted.set(name, series);
    }
    return series;
  }
}

function isLabelsJson(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
  } catch {
    return false;
  }
}

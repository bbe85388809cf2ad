// What every collector is: a name, a refresh that queries and then sets its series, and a
// clear that drops them. The orchestrator (../scrape.ts) times collectors and decides what a
// failure looks like on the wire; a collector only returns (throws) its error.
import type { Registry } from 'prom-client';
import type { Queryable } from '../db.js';

export interface Collector {
  readonly name: string;
  /** Query, then reset and set every series with no await in between. */
  collect(db: Queryable): Promise<void>;
  /** Drop every series, so nothing stale is served when the collector cannot run. */
  clear(): void;
  /** A degraded way of working that /readyz should name (e.g. a missing migration), if any. */
  status?(): string | undefined;
}

export type CollectorFactory<Options = void> = (registry: Registry, options: Options) => Collector;

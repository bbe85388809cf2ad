// A token bucket per client, in memory: a client may send a burst of `perMinute` requests and
// then `perMinute / 60` per second. Each replica limits on its own.

export interface RateLimiter {
  /** Take one request's token: 0 when allowed, else the seconds until the next token. */
  take(client: string): number;
  /** clients tracked now (bounded) */
  readonly size: number;
}

export interface RateLimitOptions {
  /** requests per client per minute; 0 disables the limit */
  perMinute: number;
  /** clients tracked at most; past it, idle (full) buckets go first, then the oldest */
  maxClients?: number;
  /** milliseconds clock, for tests */
  now?: () => number;
}

export const DEFAULT_MAX_CLIENTS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export function createRateLimiter({ perMinute, maxClients = DEFAULT_MAX_CLIENTS, now = Date.now }: RateLimitOptions): RateLimiter {
  const buckets = new Map<string, Bucket>();
  const perMs = perMinute / 60_000;

  const refill = (bucket: Bucket, t: number): void => {
    bucket.tokens = Math.min(perMinute, bucket.tokens + (t - bucket.at) * perMs);
    bucket.at = t;
  };

  const evict = (t: number): void => {
    for (const [client, bucket] of buckets) {
      refill(bucket, t);
      if (bucket.tokens >= perMinute) buckets.delete(client);
    }
    // Still full of busy clients: forget the longest-tracked tenth (they start over with a full
    // bucket), so the next new clients do not each pay for a scan.
    for (const client of buckets.keys()) {
      if (buckets.size < maxClients * 0.9) break;
      buckets.delete(client);
    }
  };

  return {
    take(client) {
      if (perMinute <= 0) return 0;
      const t = now();
      let bucket = buckets.get(client);
      if (bucket) {
        refill(bucket, t);
      } else {
        if (buckets.size >= maxClients) evict(t);
        bucket = { tokens: perMinute, at: t };
        buckets.set(client, bucket);
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
    },
    get size() {
      return buckets.size;
    },
  };
}

// /hooks/heartbeat: Alertmanager's Watchdog notifications (the alert that always fires) relayed
// to a dead man's switch (healthchecks.io, Dead Man's Snitch, Cronitor, ...), which pages when it
// stops hearing them: then Prometheus, Alertmanager or the path between them is down. The
// switch's URL is a secret (HEARTBEAT_URL_FILE), which Alertmanager 0.25 cannot read from a
// file for a webhook; it is never logged, only its host.
import type { Logger } from '../log.js';

export interface HeartbeatOptions {
  /** the dead man's switch; undefined: heartbeats are acknowledged and not relayed */
  url: string | undefined;
  /** per-ping timeout in ms (Alertmanager retries a failed delivery) */
  timeoutMs?: number;
  fetch?: typeof fetch;
  logger: Logger;
}

export type HeartbeatOutcome = 'sent' | 'failed' | 'unconfigured';

export interface HeartbeatRelay {
  /** Pings the switch once; never throws. */
  ping(): Promise<{ outcome: HeartbeatOutcome; error?: string }>;
}

export function createHeartbeatRelay({ url, timeoutMs = 5000, fetch: fetchImpl = fetch, logger }: HeartbeatOptions): HeartbeatRelay {
  let warned = false;
  const host = url === undefined ? undefined : new URL(url).host;
  return {
    async ping() {
      if (url === undefined) {
        if (!warned) {
          warned = true;
          logger.warn("the Watchdog heartbeat reached /hooks/heartbeat but HEARTBEAT_URL is not set: no dead man's switch hears it, so nobody learns when alerting stops");
        }
        return { outcome: 'unconfigured' };
      }
      try {
        const res = await fetchImpl(url, {
          method: 'POST',
          headers: { 'Content-Type': 'text/plain' },
          body: 'Connect Observability: Alertmanager Watchdog',
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return { outcome: 'sent' };
        return { outcome: 'failed', error: `the dead man's switch at ${host} answered ${res.status}` };
      } catch (err) {
        return { outcome: 'failed', error: `the dead man's switch at ${host} is unreachable: ${(err as Error).message}` };
      }
    },
  };
}

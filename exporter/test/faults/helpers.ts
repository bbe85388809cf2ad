// Shared pieces of the fault suite: OTLP requests whose every span becomes exactly one row
// (so rows can be counted per request), a ledger of what each request was answered, and the
// check that every answered 2xx is in the table whole.
import type pg from 'pg';
import { expect } from 'vitest';
import { waitUntilSettled } from '../support/databases.js';
import { parseExposition } from '../support/metrics.js';
import { jsonRequest } from '../support/otlp.js';

/**
 * The exporter of the outage tests: a small pool and short timeouts, so that an outage is felt
 * within a second; no rate limit (every request comes from one loopback address); small event
 * batches, so a scrape moves the event cursor many times.
 */
export const OUTAGE_EXPORTER_ENV: Record<string, string> = {
  DB_POOL_MAX: '3',
  DB_CONNECT_TIMEOUT_MS: '1000',
  DB_STATEMENT_TIMEOUT_MS: '2000',
  DB_LOCK_TIMEOUT_MS: '500',
  OTLP_RATE_LIMIT_PER_MINUTE: '0',
  EVENTS_BATCH_SIZE: '200',
};

/**
 * What a scrape may take while Postgres is away: its SELECT 1 and then a collector's query each
 * wait at most the connect timeout (a dropped connection fails at once, a refused one too), and
 * the bound is 5x that (a busy machine is slow). It is 10 s, Prometheus' default scrape timeout.
 */
export const OUTAGE_SCRAPE_BOUND_MS = 5 * 2 * Number(OUTAGE_EXPORTER_ENV.DB_CONNECT_TIMEOUT_MS);

/** An OTLP/JSON request of `spans` page_view spans, all carrying session.id = id: one row each. */
export function pageViews(id: string, spans: number): object {
  return jsonRequest(Array.from({ length: spans }, (_, i) => ({ name: 'page_view', attributes: { page: `/p${i % 7}`, 'session.id': id } })));
}

/** What one request got: an HTTP status, or the error that ended it before an answer. */
export interface Outcome {
  id: string;
  spans: number;
  status?: number;
  retryAfter?: string | null;
  error?: string;
  /** the request body, kept when the answer was not a 2xx, for a retry */
  body?: string;
}

export const is2xx = (o: Outcome): boolean => o.status !== undefined && o.status >= 200 && o.status < 300;

/** Rows per session id of runtime_metrics. */
export async function rowsPerSession(db: pg.ClientBase | pg.Pool, prefix: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ session_id: string; n: string }>(
    `SELECT session_id, count(*) AS n FROM public.runtime_metrics WHERE session_id LIKE $1 GROUP BY session_id`,
    [`${prefix}%`],
  );
  return new Map(rows.map((r) => [r.session_id, Number(r.n)]));
}

export interface Reconciliation {
  /** requests answered 2xx, and their spans */
  accepted: number;
  acceptedSpans: number;
  /** rows in the table for the requests of the ledger */
  rows: number;
  /** 2xx requests with fewer rows than spans (must be empty) */
  lost: string[];
  /** requests whose rows are neither none nor all of their spans (must be empty) */
  partial: string[];
  /** requests not answered 2xx whose rows are all there anyway (allowed: the answer was lost, the client retries) */
  storedWithoutAnswer: string[];
  storedWithoutAnswerSpans: number;
  /** rows whose session id is in no request of the ledger (must be empty) */
  unknown: string[];
}

/** Compares the ledger with the table: every 2xx in the table whole, nothing partial, nothing extra. */
export function reconcile(ledger: readonly Outcome[], stored: Map<string, number>): Reconciliation {
  const byId = new Map(ledger.map((o) => [o.id, o]));
  const result: Reconciliation = { accepted: 0, acceptedSpans: 0, rows: 0, lost: [], partial: [], storedWithoutAnswer: [], storedWithoutAnswerSpans: 0, unknown: [] };
  for (const [id, n] of stored) {
    result.rows += n;
    if (!byId.has(id)) result.unknown.push(id);
  }
  for (const o of ledger) {
    const n = stored.get(o.id) ?? 0;
    if (n !== 0 && n !== o.spans) result.partial.push(`${o.id}: ${n} of ${o.spans} rows`);
    if (is2xx(o)) {
      result.accepted++;
      result.acceptedSpans += o.spans;
      if (n < o.spans) result.lost.push(`${o.id}: answered ${o.status}, ${n} of ${o.spans} rows`);
    } else if (n === o.spans) {
      result.storedWithoutAnswer.push(`${o.id}: ${o.status ?? o.error}`);
      result.storedWithoutAnswerSpans += o.spans;
    }
  }
  return result;
}

/** No span answered 2xx is missing, no request is stored in part, no row comes from nowhere. */
export function expectEveryAcceptedSpanStored(r: Reconciliation): void {
  expect(r.lost).toEqual([]);
  expect(r.partial).toEqual([]);
  expect(r.unknown).toEqual([]);
  expect(r.acceptedSpans).toBeGreaterThan(0);
  expect(r.rows).toBe(r.acceptedSpans + r.storedWithoutAnswerSpans);
}

/**
 * Once every row is settled, scrapes (for up to 10 s) until the exporter's cc_events_total sums
 * to the rows in runtime_metrics: each row counted once, whatever happened meanwhile. Returns
 * both sums (equal, or the last ones seen) for the caller to report and assert.
 */
export async function eventCountersAndRows(client: pg.ClientBase, metrics: () => Promise<string>): Promise<{ counted: number; inTable: number }> {
  await waitUntilSettled(client);
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM public.runtime_metrics');
  const inTable = Number(rows[0]!.n);
  let counted = -1;
  for (let i = 0; i < 50 && counted !== inTable; i++) {
    const series = parseExposition(await metrics());
    counted = [...series].filter(([k]) => k.startsWith('cc_events_total{')).reduce((n, [, v]) => n + v, 0);
    if (counted !== inTable) await sleep(200);
  }
  return { counted, inTable };
}

/** A short tally of the ledger, e.g. { "200": 312, "503": 40, "ECONNREFUSED": 3 }. */
export function tally(ledger: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of ledger) {
    const key = o.status !== undefined ? String(o.status) : (o.error ?? 'unknown');
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The error code of a failed fetch or http request (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET...), else its message. */
export function errorCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  return e?.cause?.code ?? e?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/** Prints a figure of the fault suite (the counts SECURITY.md and the report quote). */
export function report(line: string): void {
  process.stdout.write(`[faults] ${line}\n`);
}

/** Workers posting OTLP requests back to back, each outcome in the ledger, until stop(). */
export function startIngestLoad(url: string, { prefix, workers, spans }: { prefix: string; workers: number; spans: number }) {
  const ledger: Outcome[] = [];
  let running = true;
  const worker = async (w: number) => {
    for (let k = 0; running; k++) {
      const outcome: Outcome = { id: `${prefix}${w}-${k}`, spans };
      ledger.push(outcome);
      const body = JSON.stringify(pageViews(outcome.id, spans));
      try {
        const res = await fetch(`${url}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(15_000),
        });
        outcome.status = res.status;
        outcome.retryAfter = res.headers.get('retry-after');
        await res.arrayBuffer();
      } catch (err) {
        outcome.error = errorCode(err);
      }
      if (!is2xx(outcome)) {
        outcome.body = body;
        await sleep(50); // an OTLP client backs off; do not spin on 503s
      }
    }
  };
  const all = Array.from({ length: workers }, (_, w) => worker(w));
  return {
    ledger,
    async stop() {
      running = false;
      await Promise.all(all);
    },
  };
}

export interface Scrape {
  /** when it started and ended (ms since the epoch) */
  from: number;
  at: number;
  status: number;
  up: number | undefined;
  ms: number;
}

/**
 * What OTLP clients do once the database is back: send every request of the ledger that was not
 * answered 2xx again, the same bytes, expecting 200 for each. Afterwards every request is stored
 * exactly once: the ones committed before their answer was lost (`before.storedWithoutAnswer`)
 * are recognised as replays, not stored twice. Returns the figures for the report.
 */
export async function expectRetriesToStoreEachRequestOnce(
  url: string,
  ledger: readonly Outcome[],
  before: Reconciliation,
  stored: () => Promise<Map<string, number>>,
  metrics: () => Promise<string>,
): Promise<string> {
  const replays = async () => parseExposition(await metrics()).get('cc_otlp_replayed_requests_total') ?? Number.NaN;
  const replaysBefore = await replays();
  const unanswered = ledger.filter((o) => !is2xx(o));
  for (const o of unanswered) {
    const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: o.body, signal: AbortSignal.timeout(15_000) });
    await res.arrayBuffer();
    expect(res.status, `${o.id} sent again`).toBe(200);
  }
  const recognised = (await replays()) - replaysBefore;
  const after = reconcile(ledger, await stored());
  expect(after.partial).toEqual([]);
  expect(after.rows).toBe(ledger.reduce((n, o) => n + o.spans, 0));
  expect(recognised).toBe(before.storedWithoutAnswer.length);
  return `${unanswered.length} requests not answered 2xx sent again: ${recognised} recognised as replays (${before.storedWithoutAnswer.length} had been stored), ${after.rows} rows for ${ledger.length} requests`;
}

/** GET /metrics every intervalMs until stop(), like Prometheus. */
export function startScrapes(get: (path: string) => Promise<{ status: number; body: string; ms: number }>, intervalMs = 100) {
  const scrapes: Scrape[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const from = Date.now();
      const res = await get('/metrics');
      const up = /^cc_up (\S+)$/m.exec(res.body)?.[1];
      scrapes.push({ from, at: Date.now(), status: res.status, up: up === undefined ? undefined : Number(up), ms: res.ms });
      await sleep(intervalMs);
    }
  })();
  return {
    scrapes,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** how long the exporter may take to serve again after an outage ends (about 1 s on a quiet machine) */
export const RECOVERY_BOUND_MS = 30_000;

/**
 * Waits until a scrape begun after `since` says cc_up 1: the exporter serves again by itself
 * (no restart); fails the test after RECOVERY_BOUND_MS. A fixed wait instead failed on a busy
 * machine. Later scrapes need not all say 1: with 4 writers on a pool of 3 and a 1 s connect
 * timeout, a scrape on a busy machine can time out waiting for a connection and say cc_up 0.
 */
export async function waitForRecovery(scrapes: readonly Scrape[], since: number): Promise<void> {
  const deadline = since + RECOVERY_BOUND_MS;
  while (!scrapes.some((s) => s.from > since && s.up === 1)) {
    if (Date.now() > deadline) throw new Error(`no scrape said cc_up 1 within ${RECOVERY_BOUND_MS} ms of the outage's end`);
    await sleep(100);
  }
}

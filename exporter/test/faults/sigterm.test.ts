// SIGTERM during ingest, on the built process (node exporter/dist/server.js, as `npm start` and
// the container run it) against the Postgres server: requests already in flight when the signal
// arrives finish with 2xx and their rows; connections opened after it are refused; and every
// 2xx answered, before or after the signal, is in runtime_metrics afterwards.
import { existsSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, connect, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { exporterBuild, spawnExporter, type SpawnedExporter } from '../support/exporter.js';
import { errorCode, is2xx, pageViews, reconcile, report, rowsPerSession, sleep, tally, type Outcome } from './helpers.js';

const server = backends.find((b) => b.kind === 'postgres')!;

/** requests held open (half their body sent) across the signal */
const IN_FLIGHT = 16;
const IN_FLIGHT_SPANS = 50;
/** workers sending whole requests back to back over keep-alive connections through the signal */
const STREAMERS = 6;
const STREAM_SPANS = 20;

/** A POST on a connection of its own, its body sent in two halves: the second when release() is called. */
function heldRequest(url: string, id: string, spans: number) {
  const body = Buffer.from(JSON.stringify(pageViews(id, spans)));
  const outcome: Outcome = { id, spans };
  let connected!: () => void;
  const connectedP = new Promise<void>((resolve) => (connected = resolve));
  const req = http.request(`${url}/v1/traces`, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
  });
  const done = new Promise<Outcome>((resolve) => {
    req.on('response', (res) => {
      outcome.status = res.statusCode;
      res.resume();
      res.on('end', () => resolve(outcome));
      res.on('error', () => resolve(outcome));
    });
    req.on('error', (err) => {
      outcome.error = errorCode(err);
      connected(); // a connection that fails does not hold the test up
      resolve(outcome);
    });
  });
  req.on('socket', (socket) => socket.once('connect', () => connected()));
  req.write(body.subarray(0, body.length >> 1));
  return {
    outcome,
    connected: connectedP,
    done,
    release() {
      if (outcome.error === undefined) req.end(body.subarray(body.length >> 1));
    },
  };
}

describe.skipIf(server.skip !== undefined)(`SIGTERM during ingest [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let started: SpawnedExporter | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await started?.stop('SIGKILL');
    await db?.stop();
  });

  it('is built (npm test builds it first)', () => {
    expect(existsSync(exporterBuild), `${exporterBuild} is missing: run npm run build`).toBe(true);
  });

  it('finishes the requests in flight, refuses new connections, and loses no accepted span', async () => {
    const exporter = (started = await spawnExporter({
      DATABASE_URL: db.connectionString,
      DB_POOL_MAX: '2', // fewer connections than requests: some wait for a connection when the signal comes
      OTLP_RATE_LIMIT_PER_MINUTE: '0',
      MAINTENANCE_SCHEDULER: 'off',
      SHUTDOWN_TIMEOUT_MS: '15000',
    }));

    // Whole requests back to back on keep-alive connections, before, during and after the signal.
    const streamed: Outcome[] = [];
    let streaming = true;
    const streamer = async (w: number) => {
      for (let k = 0; streaming; k++) {
        const outcome: Outcome = { id: `stream-${w}-${k}`, spans: STREAM_SPANS };
        streamed.push(outcome);
        try {
          const res = await fetch(`${exporter.url}/v1/traces`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(pageViews(outcome.id, STREAM_SPANS)),
            signal: AbortSignal.timeout(20_000),
          });
          outcome.status = res.status;
          await res.arrayBuffer();
        } catch (err) {
          outcome.error = errorCode(err);
          await sleep(20); // the server is gone or going: do not spin
        }
      }
    };
    const streamers = Array.from({ length: STREAMERS }, (_, w) => streamer(w));
    while (streamed.filter(is2xx).length < 150) await sleep(10);

    // Requests in flight: connected, half their body sent. A request on a later connection
    // answered means the server has accepted every earlier one.
    const held = Array.from({ length: IN_FLIGHT }, (_, i) => heldRequest(exporter.url, `inflight-${i}`, IN_FLIGHT_SPANS));
    await Promise.all(held.map((h) => h.connected));
    expect((await fetch(`${exporter.url}/healthz`)).status).toBe(200);
    expect(held.map((h) => h.outcome.error).filter(Boolean)).toEqual([]);

    const signalledAt = streamed.length;
    // SIGTERM, and SIGKILL if it has not exited 30 s later: twice its SHUTDOWN_TIMEOUT_MS.
    const stopped = exporter.stop('SIGTERM', 30_000);
    await exporter.waitForLine('"msg":"shutting down"');

    // A new connection after the signal: refused (or a 503), never a 2xx.
    const late = heldRequest(exporter.url, 'late-0', 5);
    late.release();
    const lateOutcome = await late.done;
    expect(is2xx(lateOutcome), JSON.stringify(lateOutcome)).toBe(false);

    // The in-flight requests now send the rest of their bodies: each is answered 200, stored whole.
    for (const h of held) h.release();
    const inFlight = await Promise.all(held.map((h) => h.done));
    const exit = await stopped;
    streaming = false;
    await Promise.all(streamers);

    expect(inFlight.map((o) => o.status ?? o.error), exporter.text().slice(-3000)).toEqual(Array(IN_FLIGHT).fill(200));
    expect(exit, exporter.text().slice(-3000)).toEqual({ code: 0, signal: null, forced: false });
    expect(exporter.text()).toContain('"msg":"stopped"');

    const afterSignal = streamed.slice(signalledAt);
    expect(afterSignal.length).toBeGreaterThan(0);

    const client = await connect(db);
    try {
      const ledger = [...inFlight, lateOutcome, ...streamed];
      const stored = new Map([...(await rowsPerSession(client, 'inflight-')), ...(await rowsPerSession(client, 'stream-')), ...(await rowsPerSession(client, 'late-'))]);
      const r = reconcile(ledger, stored);
      report(
        `SIGTERM during ingest: ${ledger.length} requests (${JSON.stringify(tally(ledger))}), ` +
          `${r.accepted} answered 2xx with ${r.acceptedSpans} spans, ${r.rows} rows stored; ` +
          `${IN_FLIGHT} in flight at the signal all 200; after the signal ${JSON.stringify(tally(afterSignal))}; ` +
          `stored without an answer: ${r.storedWithoutAnswer.length}`,
      );
      expect(r.lost).toEqual([]);
      expect(r.partial).toEqual([]);
      expect(r.unknown).toEqual([]);
      expect(r.rows).toBe(r.acceptedSpans + r.storedWithoutAnswerSpans);
      // Every answer other than 2xx is a refused or reset connection or a 503 a client retries.
      const others = ledger.filter((o) => !is2xx(o));
      for (const o of others) expect(o.status === undefined || o.status === 503, JSON.stringify(o)).toBe(true);
    } finally {
      await client.end();
    }
  }, 150_000); // above the helper's own limits (60 s to start, 30 s to stop), so their errors come first
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { jsonRequest } from '../support/otlp.js';
import { clientKey } from '../../src/ingest/otlp.js';
import { createRateLimiter } from '../../src/ingest/rate-limit.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('the token bucket', () => {
  it('allows a burst of perMinute, then one request per 60/perMinute seconds, and says how long to wait', () => {
    const c = clock();
    const limiter = createRateLimiter({ perMinute: 6, now: c.now });
    for (let i = 0; i < 6; i++) expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(10); // one token per 10 s
    c.advance(4_000);
    expect(limiter.take('a')).toBe(6);
    c.advance(6_000);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(10);
    expect(limiter.take('b')).toBe(0); // per client
  });

  it('never waits less than a second, and refills only up to the burst', () => {
    const c = clock();
    const limiter = createRateLimiter({ perMinute: 600, now: c.now });
    for (let i = 0; i < 600; i++) limiter.take('a');
    expect(limiter.take('a')).toBe(1);
    c.advance(3_600_000);
    for (let i = 0; i < 600; i++) expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1);
  });

  it('is off at 0', () => {
    const limiter = createRateLimiter({ perMinute: 0 });
    for (let i = 0; i < 10_000; i++) expect(limiter.take('a')).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it('tracks a bounded number of clients, dropping idle ones first', () => {
    const c = clock();
    const limiter = createRateLimiter({ perMinute: 2, maxClients: 100, now: c.now });
    for (let i = 0; i < 100; i++) limiter.take(`idle-${i}`);
    c.advance(60_000); // all idle clients are full again
    limiter.take('busy');
    limiter.take('busy');
    expect(limiter.size).toBe(1);
    expect(limiter.take('busy')).toBeGreaterThan(0); // the busy client kept its state
    for (let i = 0; i < 1_000; i++) limiter.take(`new-${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});

describe('clientKey', () => {
  it('is the IPv4 address, unmapped, and an IPv6 /64', () => {
    expect(clientKey('127.0.0.1')).toBe('127.0.0.1');
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey(undefined)).toBe('unknown');
  });
});

// TRUST_PROXY, with real exporters on the embedded database: the tests' requests come from
// 127.0.0.1, which is the proxy (loopback trusted) or an untrusted peer forging the header.
describe('the rate limit behind a proxy (TRUST_PROXY)', () => {
  let db: TestDatabase;
  const exporters: RunningExporter[] = [];
  const start = async (env: Record<string, string>) => {
    const exporter = await startExporter(db.connectionString, { DB_POOL_MAX: '1', COLLECTORS: 'database', OTLP_RATE_LIMIT_PER_MINUTE: '3', OTLP_DEDUPE_WINDOW_MINUTES: '0', ...env });
    exporters.push(exporter);
    return exporter;
  };
  const body = JSON.stringify(jsonRequest([{ name: 'page_view', attributes: { page: '/menu' } }]));
  const send = async (exporter: RunningExporter, forwardedFor?: string) =>
    (await fetch(`${exporter.url}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {}) }, body })).status;
  const statuses = async (exporter: RunningExporter, clients: string[]) => {
    const out: Record<number, number> = {};
    for (const client of clients) {
      const status = await send(exporter, client);
      out[status] = (out[status] ?? 0) + 1;
    }
    return out;
  };

  beforeAll(async () => {
    db = await createTestDatabase('pglite');
  });
  afterAll(async () => {
    for (const e of exporters) await e.stop();
    await db?.stop();
  });

  it('keys each forwarded client on its own behind a trusted proxy (250 clients, none refused), and still limits each one', async () => {
    const exporter = await start({ TRUST_PROXY: 'loopback' });
    // 250 browsers behind the proxy, one request each (the proxy appends the address it saw).
    expect(await statuses(exporter, Array.from({ length: 250 }, (_, i) => `203.0.113.${i}`))).toEqual({ 200: 250 });
    // One of them sends five: three pass (the burst), two wait.
    expect(await statuses(exporter, Array(5).fill('192.0.2.7'))).toEqual({ 200: 3, 429: 2 });
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy, and by default', async () => {
    for (const env of [{}, { TRUST_PROXY: '10.0.0.0/8, 192.168.1.1' }] as Record<string, string>[]) {
      const exporter = await start(env);
      // Each request claims another client; they all come from 127.0.0.1, so they share one bucket.
      expect(await statuses(exporter, ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5'])).toEqual({ 200: 3, 429: 2 });
    }
  });
});

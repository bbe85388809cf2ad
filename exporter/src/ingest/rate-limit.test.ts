import { describe, expect, it } from 'vitest';
import { clientKey } from './otlp.js';
import { createRateLimiter } from './rate-limit.js';

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

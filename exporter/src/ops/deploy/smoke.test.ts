// The smoke checks against a local app: pass, retry with back-off until a warming-up deployment
// answers, give up after the tries or at the time limit, time out a request that never answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTHY_APP, startAppFake, unreachableUrl, type AppFake } from '../../../test/support/deploy-fakes.js';
import { backoffDelay, formatSmokeTable, runSmokeChecks, standardChecks, type SmokeOptions } from './smoke.js';

const fast: SmokeOptions = { attempts: 4, initialDelayMs: 50, maxDelayMs: 1000, requestTimeoutMs: 2000, timeLimitMs: 10_000 };

describe('smoke checks', () => {
  let app: AppFake;
  beforeAll(async () => {
    app = await startAppFake();
  });
  afterAll(() => app.close());
  const reset = () => {
    for (const [path, route] of Object.entries(HEALTHY_APP)) app.routes.set(path, { ...route });
  };

  it('back-off doubles from the initial delay up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { initialDelayMs: 2000, maxDelayMs: 30_000 }))).toEqual([2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('pass on a healthy app with one try each, and say so in the table', async () => {
    reset();
    const report = await runSmokeChecks(standardChecks(app.url), fast);
    expect(report.passed).toBe(true);
    expect(report.checks.map((c) => [c.name, c.passed, c.status, c.attempts])).toEqual([
      ['main page', true, 200, 1], ['menu page', true, 200, 1], ['API health', true, 200, 1],
    ]);
    expect(report.checks.map((c) => new URL(c.url).pathname)).toEqual(['/', '/menu', '/api/health']);
    const table = formatSmokeTable(report);
    expect(table.split('\n')[0]).toMatch(/^check\s+result\s+status\s+tries\s+time\s+url\s+detail$/);
    expect(table).toMatch(/smoke: all 3 checks passed in \d+ ms$/);
  });

  it('retry a warming-up deployment with back-off until it answers', async () => {
    reset();
    app.routes.set('/menu', { ...HEALTHY_APP['/menu']!, failFirst: app.hits('/menu') + 2 });
    const started = Date.now();
    const report = await runSmokeChecks(standardChecks(app.url), fast);
    expect(report.passed).toBe(true);
    const menu = report.checks.find((c) => c.name === 'menu page')!;
    expect(menu.attempts).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50 + 100); // waited 50 ms, then 100 ms
  });

  it('fail after the last try with the last answer, and the other checks still pass', async () => {
    reset();
    app.routes.set('/api/health', { status: 200, contentType: 'application/json', body: '{"status":"degraded"}' });
    const report = await runSmokeChecks(standardChecks(app.url), { ...fast, attempts: 3 });
    expect(report.passed).toBe(false);
    const health = report.checks.find((c) => c.name === 'API health')!;
    expect(health).toMatchObject({ passed: false, status: 200, attempts: 3, error: 'HTTP 200 but status "degraded"' });
    expect(formatSmokeTable(report)).toMatch(/API health\s+FAIL\s+200\s+3\s.*HTTP 200 but status "degraded"\n\nsmoke: 1 of 3 checks FAILED/);
  });

  it('reject a page that is not HTML (a JSON error page served with 200)', async () => {
    reset();
    app.routes.set('/', { status: 200, contentType: 'application/json', body: '{"error":"no"}' });
    const report = await runSmokeChecks(standardChecks(app.url), { ...fast, attempts: 1 });
    expect(report.checks[0]).toMatchObject({ name: 'main page', passed: false, error: 'HTTP 200 but application/json, not an HTML page' });
  });

  it('time out a request that never answers, and stop every check at the time limit', async () => {
    reset();
    app.routes.set('/menu', { ...HEALTHY_APP['/menu']!, delayMs: 5000 });
    // Each try costs its 300 ms timeout and 100 ms of back-off: the 1.5 s limit, not the 10 tries,
    // ends the check ("time limit reached", fewer than 10 tries).
    const limits = { attempts: 10, initialDelayMs: 100, maxDelayMs: 100, requestTimeoutMs: 300, timeLimitMs: 1500 };
    const started = Date.now();
    const report = await runSmokeChecks(standardChecks(app.url), limits);
    const elapsed = Date.now() - started;
    const menu = report.checks.find((c) => c.name === 'menu page')!;
    expect(menu.passed).toBe(false);
    expect(menu.error).toMatch(/^no answer within \d+ ms; time limit reached$/);
    expect(menu.attempts).toBeGreaterThanOrEqual(3);
    expect(menu.attempts).toBeLessThan(10);
    // The limit is honoured: 5x margin for a busy machine (a speed figure is no test's business).
    expect(elapsed).toBeLessThan(5 * limits.timeLimitMs);
    expect(report.checks.filter((c) => c.passed).map((c) => c.name)).toEqual(['main page', 'API health']);
  });

  it('say "connection refused" when nothing listens', async () => {
    const report = await runSmokeChecks(standardChecks(await unreachableUrl()), { ...fast, attempts: 2 });
    expect(report.checks.map((c) => [c.passed, c.status, c.attempts, c.error])).toEqual([
      [false, undefined, 2, 'connection refused'], [false, undefined, 2, 'connection refused'], [false, undefined, 2, 'connection refused'],
    ]);
  });

  it('send the extra headers (a Vercel protection bypass) with every request', async () => {
    reset();
    const before = app.requests.length;
    await runSmokeChecks(standardChecks(app.url), { ...fast, headers: { 'x-vercel-protection-bypass': 'bypass-secret' } });
    const sent = app.requests.slice(before);
    expect(sent).toHaveLength(3);
    expect(sent.every((r) => r.headers['x-vercel-protection-bypass'] === 'bypass-secret')).toBe(true);
  });
});

// cc-ops analyze against the real Prometheus scraping a real exporter: the browser's API calls of
// a baseline release, then, after a "promotion", of three candidates at once: a bad one (errors
// and slow calls) is a regression (exit 1, the evidence names the queries and values), a good
// one passes (exit 0), one with too little traffic is inconclusive (exit 3, said so). Each side's
// window is the shortest cc-ops analyze takes (10 s): what the verdicts rest on is which calls fall
// in which window, not how long it lasts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisReport } from '../../src/ops/deploy/analysis.js';
import { alertingStackSkip, startAlertingStack, type AlertingStack } from '../support/alerting-stack.js';
import { runOps } from '../support/cli.js';
import { unreachableUrl } from '../support/deploy-fakes.js';

const skip = alertingStackSkip();
const WINDOW_S = 10;

/** API calls of a release as the receiver stores them: n calls, a share failing, latencies around ms. */
function calls(release: string, n: number, failing: number, ms: number) {
  return Array.from({ length: n }, (_, i) => ({
    event_type: 'api_latency',
    event_data: {
      endpoint: '/rest/v1/orders', method: 'GET', latency_ms: ms * (0.8 + (i % 5) / 10),
      status: i < Math.round(n * failing) ? 503 : 200, service: 'web', env: 'production', release,
    },
  }));
}

describe.skipIf(skip !== undefined)(`cc-ops analyze against the real Prometheus${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let stack: AlertingStack;
  let dir: string;
  let since: Date;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cc-analyze-'));
    stack = await startAlertingStack();
    // The old release's traffic, spread over the window before the promotion.
    for (let i = 0; i < 4; i++) {
      await stack.insertEvents(calls('v1', 40, 0.02, 150));
      await new Promise((resolve) => setTimeout(resolve, (WINDOW_S * 1000) / 5));
    }
    since = new Date();
    // After it, three candidates at once, spread over their window.
    for (let i = 0; i < 4; i++) {
      await stack.insertEvents([...calls('v2-good', 40, 0.02, 160), ...calls('v2-bad', 40, 0.25, 1500), ...calls('v2-thin', 2, 0, 150)]);
      await new Promise((resolve) => setTimeout(resolve, (WINDOW_S * 1000) / 5));
    }
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a bad release is a regression with its evidence, a good one passes, a thin one is inconclusive', async () => {
    const env = { PROMETHEUS_URL: stack.prometheus.url };
    const analyze = (release: string) =>
      runOps(['analyze', '--release', release, '--baseline', 'v1', '--since', since.toISOString(), '--window', `${WINDOW_S}s`, '--report', join(dir, `${release}.json`)], env, 120_000);
    const [bad, good, thin] = await Promise.all([analyze('v2-bad'), analyze('v2-good'), analyze('v2-thin')]);

    expect(bad.code, bad.output).toBe(1);
    expect(bad.stdout).toMatch(/analysis: regression of v2-bad against v1: API error ratio 25\.\d% vs 2\.\d%/);
    const report = JSON.parse(readFileSync(join(dir, 'v2-bad.json'), 'utf8')) as AnalysisReport;
    expect(report.verdict).toBe('regression');
    expect(report.requests.candidate).toBeGreaterThanOrEqual(150);
    const failed = report.checks.filter((c) => c.result === 'fail').map((c) => c.name);
    expect(failed).toEqual(['API error ratio', 'API p95 latency']);
    const latency = report.checks.find((c) => c.name === 'API p95 latency')!;
    expect(latency.candidate!).toBeGreaterThan(1);
    expect(latency.baseline!).toBeLessThan(0.5);
    expect(latency.queries.candidate).toContain('release="v2-bad"');
    expect(latency.queries.baseline).toContain('release="v1"');

    expect(good.code, good.output).toBe(0);
    expect(good.stdout).toMatch(/analysis: v2-good is no worse than v1: API error ratio \d/);
    expect(thin.code, thin.output).toBe(3);
    expect(thin.stdout).toMatch(new RegExp(`analysis: inconclusive: v2-thin had \\d+ API requests in the ${WINDOW_S} s window \\(at least 50 each are needed\\); not rolled back`));
    process.stdout.write(`\nanalysis e2e: ${bad.stdout.split('\n').filter((l) => /FAIL|PASS|SKIPPED/.test(l)).join(' | ')}\n`);
  }, 150_000);

  it('Prometheus unreachable is inconclusive, never a rollback: exit 3', async () => {
    const r = await runOps(['analyze', '--release', 'v2', '--baseline', 'v1', '--since', '2026-01-01T00:00:00Z', '--window', '10s'], { PROMETHEUS_URL: await unreachableUrl(), OPS_HTTP_TIMEOUT_MS: '2000' });
    expect(r.code, r.output).toBe(3);
    expect(r.stderr).toMatch(/^analyze: inconclusive: .*connection refused.*; not rolled back/m);
  });
});

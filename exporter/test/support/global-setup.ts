// Says once per tier, before its files run, which of its tests will skip on this machine and why
// (in CI nothing may). The system and e2e projects of vitest.config.ts load it.
import type { TestProject } from 'vitest/node';
import { backends } from './databases.js';
import { alertingStackSkip } from './alerting-stack.js';
import { privatePostgresSkip } from './private-postgres.js';
import { findTool } from './tools.js';

export default function announceSkips(project: TestProject): void {
  const skips: string[] = [];
  const skip = (why: string | undefined, what: string) => {
    if (why) skips.push(`${what}: ${why}`);
  };
  if (project.name === 'e2e') {
    skip(alertingStackSkip(), 'the alerting end-to-end tests');
    skip([findTool('prometheus-alertmanager').skip, findTool('openssl').skip].filter(Boolean).join(', ') || undefined, 'the fault tests with the real Alertmanager (Slack, Twilio, history retries)');
    skip(findTool('chromium').skip, 'the web-otel browser tests');
  } else {
    for (const backend of backends) skip(backend.skip, `every ${backend.kind} database test`);
    skip(findTool('promtool').skip, 'promtool checks (golden scrape, rules)');
    skip(findTool('jsonnet').skip, 'the monitoring mixin (rendered rules, overrides, dashboards)');
    skip(findTool('amtool').skip, 'amtool route tests');
    skip(privatePostgresSkip(), 'the fault test restarting a private Postgres cluster');
    skip(findTool('docker-compose').skip, 'docker-compose config (docker-compose.yml)');
  }
  if (skips.length > 0) {
    process.stdout.write(`\nSkipping on this machine (${project.name} tests):\n${skips.map((s) => `  - ${s}`).join('\n')}\n\n`);
  }
}

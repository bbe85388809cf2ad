// Says once, before the run, which tests will skip on this machine and why (in CI nothing may).
import { backends } from './databases.js';
import { alertingStackSkip } from './alerting-stack.js';
import { privatePostgresSkip } from './private-postgres.js';
import { findTool } from './tools.js';

export default function announceSkips(): void {
  const skips: string[] = [];
  for (const backend of backends) {
    if (backend.skip) skips.push(`every ${backend.kind} database test: ${backend.skip}`);
  }
  const promtool = findTool('promtool');
  if (promtool.skip) skips.push(`promtool checks (golden scrape, rules): ${promtool.skip}`);
  const jsonnet = findTool('jsonnet');
  if (jsonnet.skip) skips.push(`the monitoring mixin (rendered rules, overrides, dashboards): ${jsonnet.skip}`);
  const amtool = findTool('amtool');
  if (amtool.skip) skips.push(`amtool route tests: ${amtool.skip}`);
  const stack = alertingStackSkip();
  if (stack) skips.push(`the alerting end-to-end test: ${stack}`);
  const faultTools = [findTool('prometheus-alertmanager').skip, findTool('openssl').skip].filter(Boolean).join(', ');
  if (faultTools) skips.push(`the fault tests with the real Alertmanager (Slack, Twilio, history retries): ${faultTools}`);
  const privatePostgres = privatePostgresSkip();
  if (privatePostgres) skips.push(`the fault test restarting a private Postgres cluster: ${privatePostgres}`);
  const compose = findTool('docker-compose');
  if (compose.skip) skips.push(`docker-compose config (docker-compose.yml): ${compose.skip}`);
  const chromium = findTool('chromium');
  if (chromium.skip) skips.push(`the web-otel browser test: ${chromium.skip}`);
  if (skips.length > 0) {
    process.stdout.write(`\nSkipping on this machine:\n${skips.map((s) => `  - ${s}`).join('\n')}\n\n`);
  }
}

// Says once, before the run, which tests will skip on this machine and why (in CI nothing may).
import { backends } from './databases.js';
import { findTool } from './tools.js';

export default function announceSkips(): void {
  const skips: string[] = [];
  for (const backend of backends) {
    if (backend.skip) skips.push(`every ${backend.kind} database test: ${backend.skip}`);
  }
  const promtool = findTool('promtool');
  if (promtool.skip) skips.push(`promtool check metrics on the golden scrape: ${promtool.skip}`);
  if (skips.length > 0) {
    process.stdout.write(`\nSkipping on this machine:\n${skips.map((s) => `  - ${s}`).join('\n')}\n\n`);
  }
}

// External tools the tests use (promtool). Absent locally, a test skips and says so; in CI
// (CI=true) an absent tool is an error, so nothing is skipped there.
import { execFileSync } from 'node:child_process';

export function findTool(name: string): { path: string | undefined; skip: string | undefined } {
  try {
    const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    if (path) return { path, skip: undefined };
  } catch {
    // not found
  }
  if (process.env.CI === 'true') throw new Error(`CI=true but ${name} is not installed`);
  return { path: undefined, skip: `${name} is not installed` };
}

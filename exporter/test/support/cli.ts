// Runs the built `cc-ops` (exporter/dist/ops/ops.js, as the bin runs it) as a child process, so
// tests see its real exit code and output. npm test builds first.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const opsJs = fileURLToPath(new URL('../../dist/ops/ops.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** both, for messages */
  output: string;
  durationMs: number;
}

/** cc-ops with exactly this environment (plus PATH): nothing leaks in from the test's own. */
export function runOps(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliResult> {
  if (!existsSync(opsJs)) throw new Error(`${opsJs} is missing: run npm run build`);
  const started = Date.now();
  const clean = Object.fromEntries(Object.entries({ PATH: process.env.PATH, ...env }).filter((e): e is [string, string] => e[1] !== undefined));
  const child = spawn(process.execPath, [opsJs, ...args], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cc-ops ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, output: `${stdout}${stderr}`, durationMs: Date.now() - started });
    });
  });
}

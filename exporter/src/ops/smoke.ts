// `cc-ops smoke`: the three smoke tests of a deployment (main page, menu page, API health) with
// retries, back-off and a time limit; prints a table, optionally writes the report as JSON for
// `cc-ops deploy finish --smoke-report`. Exit 0 all passed, 1 a check failed, 2 bad usage.
import { writeFileSync } from 'node:fs';
import { formatSmokeTable, runSmokeChecks, SMOKE_DEFAULTS, standardChecks } from './deploy/smoke.js';
import { parseCommand, parseDurationMs, usageError } from './deploy-support.js';
import { isEntryPoint } from './entry.js';
import { opsSettingsOrExit } from './settings.js';

const USAGE = `usage: cc-ops smoke --url URL [options]

Runs the smoke tests of a deployment: the main page and the menu page must answer 2xx with an
HTML page, the API health endpoint 2xx (and, when it answers JSON with a "status", a healthy
one). A failing check is tried again after ${SMOKE_DEFAULTS.initialDelayMs / 1000} s, then after twice as long each time, until
it passes, its tries are used up or the time limit is reached.

  --url URL               the deployment's base URL (https://…)
  --main-path PATH        the main page (default ${SMOKE_DEFAULTS.mainPath})
  --menu-path PATH        the menu page (default ${SMOKE_DEFAULTS.menuPath})
  --health-path PATH      the API health endpoint, or a full URL (default ${SMOKE_DEFAULTS.healthPath})
  --attempts N            tries per check (default ${SMOKE_DEFAULTS.attempts})
  --initial-delay DUR     the first wait between tries (default ${SMOKE_DEFAULTS.initialDelayMs / 1000}s; then doubled)
  --max-delay DUR         the longest wait between tries (default ${SMOKE_DEFAULTS.maxDelayMs / 1000}s)
  --request-timeout DUR   the timeout of one request (default ${SMOKE_DEFAULTS.requestTimeoutMs / 1000}s)
  --time-limit DUR        all checks end within this (default ${SMOKE_DEFAULTS.timeLimitMs / 60_000}m)
  --report FILE           also write the results as JSON (for deploy finish --smoke-report)
  --help                  this text

Durations: 500ms, 2s, 3m, or milliseconds. VERCEL_AUTOMATION_BYPASS_SECRET, when set, is sent as
the x-vercel-protection-bypass header (Vercel's deployment protection).

exit: 0 every check passed, 1 a check failed, 2 bad usage
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parseCommand('smoke', USAGE, argv, {
    url: { type: 'string' },
    'main-path': { type: 'string' },
    'menu-path': { type: 'string' },
    'health-path': { type: 'string' },
    attempts: { type: 'string' },
    'initial-delay': { type: 'string' },
    'max-delay': { type: 'string' },
    'request-timeout': { type: 'string' },
    'time-limit': { type: 'string' },
    report: { type: 'string' },
  });
  if (typeof args === 'number') return args;

  const problems: string[] = [];
  const url = args.string('url');
  if (url === undefined) problems.push('--url is required');
  else if (!/^https?:\/\/[^/]/.test(url)) problems.push('--url must be an http(s) URL');
  const duration = (name: string, fallback: number, min: number): number => {
    const raw = args.string(name);
    if (raw === undefined) return fallback;
    const ms = parseDurationMs(raw);
    if (ms === undefined || ms < min) {
      problems.push(`--${name} must be a duration of at least ${min} ms (500ms, 2s, 3m), got "${raw}"`);
      return fallback;
    }
    return ms;
  };
  const rawAttempts = args.string('attempts');
  const attempts = rawAttempts === undefined ? SMOKE_DEFAULTS.attempts : Number(rawAttempts);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) problems.push(`--attempts must be a whole number from 1 to 100, got "${rawAttempts}"`);
  const options = {
    attempts,
    initialDelayMs: duration('initial-delay', SMOKE_DEFAULTS.initialDelayMs, 0),
    maxDelayMs: duration('max-delay', SMOKE_DEFAULTS.maxDelayMs, 0),
    requestTimeoutMs: duration('request-timeout', SMOKE_DEFAULTS.requestTimeoutMs, 100),
    timeLimitMs: duration('time-limit', SMOKE_DEFAULTS.timeLimitMs, 100),
  };
  if (problems.length > 0) return usageError('smoke', problems.join('; '), USAGE);
  const settings = opsSettingsOrExit('smoke');
  if (typeof settings === 'number') return settings;
  const bypass = settings.vercelBypassSecret;

  const checks = standardChecks(url!, { main: args.string('main-path'), menu: args.string('menu-path'), health: args.string('health-path') });
  console.log(`smoke: ${checks.length} checks of ${url} (${options.attempts} tries each, time limit ${options.timeLimitMs / 1000} s)`);
  const report = await runSmokeChecks(checks, { ...options, headers: bypass ? { 'x-vercel-protection-bypass': bypass } : undefined });
  console.log(`\n${formatSmokeTable(report)}`);

  const reportFile = args.string('report');
  if (reportFile !== undefined) {
    try {
      writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
    } catch (err) {
      console.error(`smoke: cannot write the report to ${reportFile}: ${(err as Error).message}`);
      return 1;
    }
  }
  return report.passed ? 0 : 1;
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();

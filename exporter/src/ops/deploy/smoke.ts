// The smoke tests of a deployment (the Phase 9 report's three: main page, menu page, API health),
// each retried with exponential back-off, all of them within one overall time limit, every
// request with its own timeout. The result is data: a table for people, JSON for deploy finish.
import { describeFetchError } from './http.js';

export interface SmokeCheck {
  name: string;
  url: string;
  /** what an answer must look like: undefined when it passes, else why not */
  verify(res: { status: number; contentType: string; body: string }): string | undefined;
}

export interface SmokeOptions {
  /** tries per check, at most */
  attempts: number;
  /** the wait after the first failed try; doubled after each further one */
  initialDelayMs: number;
  /** the longest wait between two tries */
  maxDelayMs: number;
  /** the timeout of one request */
  requestTimeoutMs: number;
  /** all checks together end within this, retries included */
  timeLimitMs: number;
  /** sent with every request (a Vercel protection-bypass header, for instance) */
  headers?: Record<string, string>;
}

export interface CheckResult {
  name: string;
  url: string;
  passed: boolean;
  /** the last HTTP status seen, if any answer came */
  status: number | undefined;
  attempts: number;
  durationMs: number;
  /** why the last try failed */
  error: string | undefined;
}

export interface SmokeReport {
  passed: boolean;
  startedAt: string;
  durationMs: number;
  checks: CheckResult[];
}

export const SMOKE_DEFAULTS = {
  mainPath: '/',
  menuPath: '/menu',
  healthPath: '/api/health',
  attempts: 5,
  initialDelayMs: 2000,
  maxDelayMs: 30_000,
  requestTimeoutMs: 10_000,
  timeLimitMs: 180_000,
} as const;

/** The wait before try number `attempt` + 1 (attempt counts from 1). */
export function backoffDelay(attempt: number, options: Pick<SmokeOptions, 'initialDelayMs' | 'maxDelayMs'>): number {
  return Math.min(options.initialDelayMs * 2 ** (attempt - 1), options.maxDelayMs);
}

const HEALTHY = new Set(['ok', 'healthy', 'up', 'pass', 'passed', 'success']);

function verifyPage(res: { status: number; contentType: string; body: string }): string | undefined {
  if (res.status < 200 || res.status > 299) return `HTTP ${res.status}`;
  if (!/html/i.test(res.contentType)) return `HTTP ${res.status} but ${res.contentType || 'no content type'}, not an HTML page`;
  if (res.body.trim() === '') return `HTTP ${res.status} with an empty page`;
  return undefined;
}

function verifyHealth(res: { status: number; contentType: string; body: string }): string | undefined {
  if (res.status < 200 || res.status > 299) return `HTTP ${res.status}`;
  if (/json/i.test(res.contentType)) {
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      return `HTTP ${res.status} with a body that is not JSON`;
    }
    const status = (body as { status?: unknown } | null)?.status;
    if (typeof status === 'string' && !HEALTHY.has(status.toLowerCase())) return `HTTP ${res.status} but status "${status.slice(0, 40)}"`;
  }
  return undefined;
}

/** The three checks for an app at baseUrl. */
export function standardChecks(baseUrl: string, paths: { main?: string; menu?: string; health?: string } = {}): SmokeCheck[] {
  const at = (path: string) => new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
  return [
    { name: 'main page', url: at(paths.main ?? SMOKE_DEFAULTS.mainPath), verify: verifyPage },
    { name: 'menu page', url: at(paths.menu ?? SMOKE_DEFAULTS.menuPath), verify: verifyPage },
    { name: 'API health', url: at(paths.health ?? SMOKE_DEFAULTS.healthPath), verify: verifyHealth },
  ];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function runCheck(check: SmokeCheck, options: SmokeOptions, deadline: number): Promise<CheckResult> {
  const started = Date.now();
  let status: number | undefined;
  let error: string | undefined;
  let attempts = 0;
  while (attempts < options.attempts) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      error = `${error ?? 'not tried'}; time limit reached`;
      break;
    }
    attempts += 1;
    const timeoutMs = Math.min(options.requestTimeoutMs, remaining);
    try {
      const res = await fetch(check.url, { headers: { 'user-agent': 'cc-ops-smoke', ...options.headers }, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
      const body = await res.text();
      status = res.status;
      error = check.verify({ status: res.status, contentType: res.headers.get('content-type') ?? '', body });
    } catch (err) {
      status = undefined;
      error = describeFetchError(err, timeoutMs);
    }
    if (error === undefined) return { name: check.name, url: check.url, passed: true, status, attempts, durationMs: Date.now() - started, error };
    if (attempts < options.attempts) {
      const wait = backoffDelay(attempts, options);
      if (Date.now() + wait >= deadline) {
        error = `${error}; time limit reached`;
        break;
      }
      await sleep(wait);
    }
  }
  return { name: check.name, url: check.url, passed: false, status, attempts, durationMs: Date.now() - started, error };
}

export async function runSmokeChecks(checks: SmokeCheck[], options: SmokeOptions): Promise<SmokeReport> {
  const started = Date.now();
  const deadline = started + options.timeLimitMs;
  const results = await Promise.all(checks.map((check) => runCheck(check, options, deadline)));
  return { passed: results.every((r) => r.passed), startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, checks: results };
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The report as a table, one line per check, and a closing verdict. */
export function formatSmokeTable(report: SmokeReport): string {
  const header = ['check', 'result', 'status', 'tries', 'time', 'url', 'detail'];
  const rows = report.checks.map((c) => [c.name, c.passed ? 'PASS' : 'FAIL', c.status === undefined ? '-' : String(c.status), String(c.attempts), seconds(c.durationMs), c.url, c.error ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const failed = report.checks.filter((c) => !c.passed).length;
  const verdict = report.passed
    ? `smoke: all ${report.checks.length} checks passed in ${seconds(report.durationMs)}`
    : `smoke: ${failed} of ${report.checks.length} checks FAILED (${seconds(report.durationMs)})`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', verdict].join('\n');
}

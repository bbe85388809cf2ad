// Metric analysis of a new release against the one before it (the idea of Argo Rollouts'
// AnalysisTemplate and Flagger's canary analysis, as one CLI step): the browser's own measures,
// read from Prometheus by the release label (service.version), over one window after the
// promotion for the new release and the same window before it for the old one.
//
//   error ratio   5xx and network failures among API requests: a regression when it rises by more
//                 than maxErrorRatioIncrease (absolute, default 2 points)
//   p95 latency   of API requests: a regression when it grows by more than maxLatencyRatio (x1.5)
//                 and by more than minLatencyIncreaseSeconds (0.1 s; the buckets are coarse)
//   LCP p75       when both releases have minVitalSamples: a regression past x1.25 and +0.25 s
//
// Too few requests on either side is "inconclusive": no rollback, and it is said so.
import { requestJson } from './http.js';

export interface PrometheusSettings {
  /** Prometheus's base URL, e.g. http://prometheus:9090 */
  url: string;
  /** a bearer token, when Prometheus sits behind an authenticating proxy */
  token: string | undefined;
}

export interface AnalysisOptions {
  environment: string;
  release: string;
  baseline: string;
  /** the promotion: the new release is measured over [since, since + window], the old one over [since - window, since] */
  since: Date;
  windowSeconds: number;
  minRequests: number;
  maxErrorRatioIncrease: number;
  maxLatencyRatio: number;
  minLatencyIncreaseSeconds: number;
  minVitalSamples: number;
}

export const ANALYSIS_DEFAULTS = {
  windowSeconds: 600,
  minRequests: 50,
  maxErrorRatioIncrease: 0.02,
  maxLatencyRatio: 1.5,
  minLatencyIncreaseSeconds: 0.1,
  minVitalSamples: 20,
} as const;

export type Verdict = 'pass' | 'regression' | 'inconclusive';

export interface CheckOutcome {
  name: string;
  /** what each side measured (null: no data) */
  candidate: number | null;
  baseline: number | null;
  /** the rule, in words */
  threshold: string;
  result: 'pass' | 'fail' | 'skipped';
  detail: string;
  /** the PromQL of each side, as run (at their evaluation times) */
  queries: { candidate: string; baseline: string };
}

export interface AnalysisReport {
  verdict: Verdict;
  summary: string;
  environment: string;
  release: string;
  baseline: string;
  windowSeconds: number;
  /** evaluation times: the end of each side's window */
  candidateAt: string;
  baselineAt: string;
  requests: { candidate: number; baseline: number };
  checks: CheckOutcome[];
}

const API = 'cc_api_request_duration_seconds';
const LCP = 'cc_web_vital_lcp_seconds';

/** PromQL string literal. */
const quote = (value: string): string => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * The increase of a counter (or each bucket) over the window ending at the evaluation time,
 * counting a series born inside the window from 0 (increase() never sees the first sample of a
 * series that appears above 0, and a new release's series are born in its window).
 */
function windowed(selector: string, window: string): string {
  return `((increase(${selector}[${window}]) and ${selector} offset ${window}) or (${selector} unless ${selector} offset ${window}))`;
}

export function analysisQueries(environment: string, release: string, windowSeconds: number): Record<'requests' | 'errors' | 'p95' | 'lcpSamples' | 'lcpP75', string> {
  const w = `${windowSeconds}s`;
  const labels = `env=${quote(environment)}, release=${quote(release)}`;
  return {
    requests: `sum(${windowed(`${API}_count{${labels}}`, w)})`,
    errors: `sum(${windowed(`${API}_count{${labels}, status_class=~"5xx|network"}`, w)})`,
    p95: `histogram_quantile(0.95, sum by (le) (${windowed(`${API}_bucket{${labels}}`, w)}))`,
    lcpSamples: `sum(${windowed(`${LCP}_count{${labels}}`, w)})`,
    lcpP75: `histogram_quantile(0.75, sum by (le) (${windowed(`${LCP}_bucket{${labels}}`, w)}))`,
  };
}

/** One instant query's single value, or null when the result is empty or not a finite number. */
export async function queryScalar(prometheus: PrometheusSettings, query: string, at: Date, timeoutMs: number): Promise<number | null> {
  const url = `${prometheus.url}/api/v1/query?${new URLSearchParams({ query, time: (at.getTime() / 1000).toFixed(3) })}`;
  const body = (await requestJson({
    method: 'GET',
    url,
    what: 'Prometheus: query',
    headers: prometheus.token ? { authorization: `Bearer ${prometheus.token}` } : {},
    timeoutMs,
  })) as { status?: string; error?: string; data?: { result?: { value?: [number, string] }[] } } | null;
  if (body?.status !== 'success') throw new Error(`Prometheus refused ${query}: ${body?.error ?? 'no status'}`);
  const first = body.data?.result?.[0]?.value?.[1];
  const value = first === undefined ? NaN : Number(first);
  return Number.isFinite(value) ? value : null;
}

type Measures = { requests: number; errors: number; p95: number | null; lcpSamples: number; lcpP75: number | null };

async function measure(prometheus: PrometheusSettings, release: string, o: AnalysisOptions, at: Date, timeoutMs: number): Promise<{ values: Measures; queries: ReturnType<typeof analysisQueries> }> {
  const queries = analysisQueries(o.environment, release, o.windowSeconds);
  const [requests, errors, p95, lcpSamples, lcpP75] = await Promise.all(
    [queries.requests, queries.errors, queries.p95, queries.lcpSamples, queries.lcpP75].map((q) => queryScalar(prometheus, q, at, timeoutMs)),
  );
  return { values: { requests: requests ?? 0, errors: errors ?? 0, p95: p95 ?? null, lcpSamples: lcpSamples ?? 0, lcpP75: lcpP75 ?? null }, queries };
}

const percent = (v: number | null) => (v === null ? 'no data' : `${(v * 100).toFixed(1)}%`);
const secs = (v: number | null) => (v === null ? 'no data' : `${v.toFixed(3)} s`);

/** The verdict from both sides' measures (pure: the thresholds are the options). */
export function judge(o: AnalysisOptions, candidate: Measures, baseline: Measures, queries: { candidate: ReturnType<typeof analysisQueries>; baseline: ReturnType<typeof analysisQueries> }): Pick<AnalysisReport, 'verdict' | 'summary' | 'checks'> {
  const checks: CheckOutcome[] = [];
  const q = (name: keyof ReturnType<typeof analysisQueries>) => ({ candidate: queries.candidate[name], baseline: queries.baseline[name] });
  const few = [
    candidate.requests < o.minRequests ? `${o.release} had ${Math.round(candidate.requests)} API requests` : undefined,
    baseline.requests < o.minRequests ? `${o.baseline} had ${Math.round(baseline.requests)} API requests` : undefined,
  ].filter((s): s is string => s !== undefined);
  if (few.length > 0) {
    const summary = `inconclusive: ${few.join(' and ')} in the ${o.windowSeconds} s window (at least ${o.minRequests} each are needed); not rolled back`;
    checks.push({ name: 'traffic', candidate: candidate.requests, baseline: baseline.requests, threshold: `at least ${o.minRequests} requests each`, result: 'skipped', detail: summary, queries: q('requests') });
    return { verdict: 'inconclusive', summary, checks };
  }

  const ratio = (m: Measures) => m.errors / m.requests;
  const [cr, br] = [ratio(candidate), ratio(baseline)];
  const errorFails = cr - br > o.maxErrorRatioIncrease;
  checks.push({
    name: 'API error ratio',
    candidate: cr,
    baseline: br,
    threshold: `at most +${(o.maxErrorRatioIncrease * 100).toFixed(1)} points`,
    result: errorFails ? 'fail' : 'pass',
    detail: `${percent(cr)} vs ${percent(br)}`,
    queries: { candidate: `${queries.candidate.errors} / ${queries.candidate.requests}`, baseline: `${queries.baseline.errors} / ${queries.baseline.requests}` },
  });

  const latencyFails = candidate.p95 !== null && baseline.p95 !== null &&
    candidate.p95 > baseline.p95 * o.maxLatencyRatio && candidate.p95 - baseline.p95 > o.minLatencyIncreaseSeconds;
  checks.push({
    name: 'API p95 latency',
    candidate: candidate.p95,
    baseline: baseline.p95,
    threshold: `at most x${o.maxLatencyRatio} (or +${o.minLatencyIncreaseSeconds} s)`,
    result: candidate.p95 === null || baseline.p95 === null ? 'skipped' : latencyFails ? 'fail' : 'pass',
    detail: `${secs(candidate.p95)} vs ${secs(baseline.p95)}`,
    queries: q('p95'),
  });

  const enoughVitals = candidate.lcpSamples >= o.minVitalSamples && baseline.lcpSamples >= o.minVitalSamples;
  const lcpFails = enoughVitals && candidate.lcpP75 !== null && baseline.lcpP75 !== null && candidate.lcpP75 > baseline.lcpP75 * 1.25 && candidate.lcpP75 - baseline.lcpP75 > 0.25;
  checks.push({
    name: 'LCP p75',
    candidate: candidate.lcpP75,
    baseline: baseline.lcpP75,
    threshold: 'at most x1.25 (or +0.25 s)',
    result: !enoughVitals || candidate.lcpP75 === null || baseline.lcpP75 === null ? 'skipped' : lcpFails ? 'fail' : 'pass',
    detail: enoughVitals
      ? `${secs(candidate.lcpP75)} vs ${secs(baseline.lcpP75)}`
      : `too few samples (${Math.round(candidate.lcpSamples)} and ${Math.round(baseline.lcpSamples)}; ${o.minVitalSamples} each needed)`,
    queries: q('lcpP75'),
  });

  const failed = checks.filter((c) => c.result === 'fail');
  if (failed.length > 0) {
    return { verdict: 'regression', summary: `regression of ${o.release} against ${o.baseline}: ${failed.map((c) => `${c.name} ${c.detail} (${c.threshold})`).join('; ')}`, checks };
  }
  return { verdict: 'pass', summary: `${o.release} is no worse than ${o.baseline}: ${checks.filter((c) => c.result === 'pass').map((c) => `${c.name} ${c.detail}`).join('; ')}`, checks };
}

/** Runs the analysis at the end of the candidate's window (the caller waits until then). */
export async function analyze(prometheus: PrometheusSettings, o: AnalysisOptions, timeoutMs: number): Promise<AnalysisReport> {
  const candidateAt = new Date(o.since.getTime() + o.windowSeconds * 1000);
  const baselineAt = o.since;
  const [candidate, baseline] = await Promise.all([
    measure(prometheus, o.release, o, candidateAt, timeoutMs),
    measure(prometheus, o.baseline, o, baselineAt, timeoutMs),
  ]);
  const verdict = judge(o, candidate.values, baseline.values, { candidate: candidate.queries, baseline: baseline.queries });
  return {
    ...verdict,
    environment: o.environment,
    release: o.release,
    baseline: o.baseline,
    windowSeconds: o.windowSeconds,
    candidateAt: candidateAt.toISOString(),
    baselineAt: baselineAt.toISOString(),
    requests: { candidate: candidate.values.requests, baseline: baseline.values.requests },
  };
}

/** The report as lines for people. */
export function formatAnalysis(report: AnalysisReport): string {
  const rows = report.checks.map((c) => `  ${c.result.toUpperCase().padEnd(7)} ${c.name.padEnd(16)} ${c.detail}  [${c.threshold}]`);
  return [
    `analysis of ${report.release} against ${report.baseline} in ${report.environment}, ${report.windowSeconds} s windows (ending ${report.candidateAt} and ${report.baselineAt})`,
    `  requests: ${Math.round(report.requests.candidate)} and ${Math.round(report.requests.baseline)}`,
    ...rows,
    `analysis: ${report.summary}`,
  ].join('\n');
}

/** The evidence of a regression in a few lines: each failed check with its values and queries. */
export function evidenceOf(report: AnalysisReport): string {
  return report.checks
    .filter((c) => c.result === 'fail')
    .map((c) => `${c.name}: ${c.detail} (${c.threshold}); ${report.release}: ${c.queries.candidate} at ${report.candidateAt}; ${report.baseline}: ${c.queries.baseline} at ${report.baselineAt}`)
    .join('\n');
}

// `cc-ops analyze`: after a promotion, compares the new release's error ratio, p95 API latency
// and LCP p75 with the previous release's, read from Prometheus by the release label; exit 1 on
// a regression (the deploy workflow then rolls back with the report as its evidence).
import { writeFileSync } from 'node:fs';
import { analyze, ANALYSIS_DEFAULTS, formatAnalysis, type AnalysisOptions } from './deploy/analysis.js';
import { connectOrExit, errorMessage, parseCommand, parseDurationMs, settingsOrExit, usageError } from './deploy-support.js';
import { isEntryPoint } from './entry.js';

const D = ANALYSIS_DEFAULTS;
const USAGE = `usage: cc-ops analyze --release NEW (--baseline OLD | --deployment-id ID) [options]

Compares a new release with the one before it, from the browser's own measures in Prometheus
(the release label is the telemetry's service.version): the new release over the window after
--since (the promotion), the old one over the same length of time before it. Waits until the
new release's window has closed. A regression: the API error ratio up by more than
--max-error-increase, or the API p95 latency more than --max-latency-ratio times the old one
(and 0.1 s more), or LCP p75 more than 1.25 times (and 0.25 s more; only with ${D.minVitalSamples} samples
each). Fewer than --min-requests API requests on either side: inconclusive.

  --release NEW             the new release, as its telemetry names it (service.version)
  --baseline OLD            the release before it
  --deployment-id ID        instead of --baseline: the version (else commit) of the last deployment
                            of the environment before ID that passed its smoke test (DATABASE_URL)
  --environment ENV         the env label (deployment.environment.name; default production)
  --since TIME              the promotion, ISO 8601 or Unix seconds (default: now)
  --window DUR              each side's window (default ${D.windowSeconds / 60}m; 10s to 1h)
  --min-requests N          API requests each side needs (default ${D.minRequests})
  --max-error-increase X    the error ratio may rise by this much, absolute (default ${D.maxErrorRatioIncrease})
  --max-latency-ratio X     p95 may grow this many times (default ${D.maxLatencyRatio})
  --report FILE             also write the report as JSON (for cc-ops rollback --evidence)
  --help                    this text

Environment: PROMETHEUS_URL (and PROMETHEUS_TOKEN or _FILE behind an authenticating proxy);
DATABASE_URL (or _FILE) with --deployment-id. OPS_HTTP_TIMEOUT_MS bounds every HTTP call.

exit: 0 no regression, 1 a regression (roll back), 2 bad usage or configuration, 3 inconclusive
(too little traffic, or Prometheus could not answer): not rolled back, said why
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parseCommand('analyze', USAGE, argv, {
    release: { type: 'string' },
    baseline: { type: 'string' },
    'deployment-id': { type: 'string' },
    environment: { type: 'string' },
    since: { type: 'string' },
    window: { type: 'string' },
    'min-requests': { type: 'string' },
    'max-error-increase': { type: 'string' },
    'max-latency-ratio': { type: 'string' },
    report: { type: 'string' },
  });
  if (typeof args === 'number') return args;

  const problems: string[] = [];
  const release = args.string('release');
  if (!release) problems.push('--release is required');
  const baselineArg = args.string('baseline');
  const deploymentId = args.string('deployment-id');
  if (!baselineArg && !deploymentId) problems.push('--baseline or --deployment-id is required');
  const sinceRaw = args.string('since');
  const since = sinceRaw === undefined ? new Date() : /^\d+(\.\d+)?$/.test(sinceRaw) ? new Date(Number(sinceRaw) * 1000) : new Date(sinceRaw);
  if (Number.isNaN(since.getTime())) problems.push(`--since must be an ISO 8601 time or Unix seconds, got "${sinceRaw}"`);
  const windowMs = parseDurationMs(args.string('window') ?? `${D.windowSeconds}s`);
  if (windowMs === undefined || windowMs < 10_000 || windowMs > 3_600_000) problems.push(`--window must be a duration from 10s to 60m, got "${args.string('window')}"`);
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = args.string(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || n < min || n > max) problems.push(`--${name} must be a number from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const minRequests = number('min-requests', D.minRequests, 1, 1_000_000);
  const maxErrorRatioIncrease = number('max-error-increase', D.maxErrorRatioIncrease, 0, 1);
  const maxLatencyRatio = number('max-latency-ratio', D.maxLatencyRatio, 1, 100);
  if (problems.length > 0) return usageError('analyze', problems.join('; '), USAGE);

  const settings = settingsOrExit('analyze', { prometheus: true, database: !baselineArg });
  if (typeof settings === 'number') return settings;
  const environment = args.string('environment') ?? 'production';

  let baseline = baselineArg;
  if (!baseline) {
    const db = await connectOrExit('analyze', settings);
    if (typeof db === 'number') return db;
    try {
      const { lastSuccessfulDeployment } = await import('./deploy/deployment-log.js');
      const previous = await lastSuccessfulDeployment(db, environment, deploymentId!);
      baseline = previous?.version ?? previous?.commit_sha ?? undefined;
      if (!baseline) {
        console.log(`analyze: inconclusive: no earlier deployment of ${environment} passed its smoke test, so there is nothing to compare ${release} with; not rolled back`);
        return 3;
      }
      console.log(`analyze: the release before ${deploymentId} in ${environment}: ${baseline} [${previous!.deployment_id}]`);
    } finally {
      await db.end().catch(() => undefined);
    }
  }
  if (baseline === release) {
    console.log(`analyze: inconclusive: the release before is ${baseline} too (a redeploy of the same version): nothing to compare; not rolled back`);
    return 3;
  }

  const options: AnalysisOptions = {
    ...D, environment, release: release!, baseline, since, windowSeconds: windowMs! / 1000, minRequests, maxErrorRatioIncrease, maxLatencyRatio,
  };
  // The new release's window closes window after the promotion: wait for it, saying so.
  const closesAt = since.getTime() + windowMs!;
  while (Date.now() < closesAt) {
    const left = closesAt - Date.now();
    console.log(`analyze: waiting ${Math.ceil(left / 1000)} s for the window of ${release} to close (${new Date(closesAt).toISOString()})`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, 60_000)));
  }
  // A last scrape of the window's end must reach Prometheus.
  await new Promise((resolve) => setTimeout(resolve, Math.min(15_000, windowMs! / 4)));

  let report;
  try {
    report = await analyze(settings.prometheus!, options, settings.httpTimeoutMs);
  } catch (err) {
    console.error(`analyze: inconclusive: ${errorMessage(err)}; not rolled back`);
    return 3;
  }
  console.log(formatAnalysis(report));
  const file = args.string('report');
  if (file !== undefined) {
    try {
      writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    } catch (err) {
      console.error(`analyze: cannot write --report ${file}: ${errorMessage(err)}`);
    }
  }
  return report.verdict === 'regression' ? 1 : report.verdict === 'inconclusive' ? 3 : 0;
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();

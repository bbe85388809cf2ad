// `cc-ops rollback`: the command line of the rollback flow (./deploy/rollback.ts): its arguments,
// settings and database connection, its lines on stdout and stderr (each "rollback: ", progress
// of a dry run "rollback: [dry run] "), and the exit code of its outcome.
import { readFileSync } from 'node:fs';
import { evidenceOf, type AnalysisReport } from './deploy/analysis.js';
import { rollBack, type RollbackOutcome } from './deploy/rollback.js';
import { connectOrExit, errorMessage, parseCommand, settingsOrExit, usageError } from './deploy-support.js';
import { isEntryPoint } from './entry.js';

const USAGE = `usage: cc-ops rollback --environment ENV [--deployment-id ID] [--to ID] [--reason TEXT] [--evidence FILE] [--dry-run]

Rolls the environment back to its last successful deployment (get_last_successful_deployment):
asks Vercel for an Instant Rollback (POST /v1/projects/{project}/rollback/{deployment}), records
log_rollback() in deployment_log, annotates Grafana (tags deploy, rollback) and pushes a critical
DeploymentRolledBack alert to Alertmanager. When Vercel refuses, the failed deployment's row
says so (status failed, metadata.rollback) and a critical DeploymentRollbackFailed alert is sent.

  --environment ENV     the environment to roll back (default production)
  --deployment-id ID    the failed deployment (default: the environment's latest in deployment_log)
  --to ID               roll back to this deployment instead (it must be in deployment_log)
  --reason TEXT         why, for Vercel, Grafana and the alert (default "smoke tests failed", or
                        the analysis's summary with --evidence)
  --evidence FILE       the report of cc-ops analyze --report: its failed checks (values and
                        queries) go into the alert's evidence annotation and the Grafana note
  --dry-run             say what would be done; change nothing, call nothing
  --help                this text

Environment: DATABASE_URL (or _FILE); VERCEL_TOKEN (or _FILE), VERCEL_PROJECT_ID, VERCEL_TEAM_ID
(for a team's project); GRAFANA_URL and GRAFANA_TOKEN (or _FILE) to annotate; ALERTMANAGER_URL
(and ALERTMANAGER_TOKEN or _FILE behind an authenticating proxy) to alert; a part whose URL is
unset is skipped and said so. OPS_HTTP_TIMEOUT_MS bounds every HTTP call (default 10000).

exit: 0 rolled back, 1 not rolled back (or nothing to roll back to), 2 bad usage or
configuration, 3 rolled back but the log, Grafana or Alertmanager could not be told
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parseCommand('rollback', USAGE, argv, {
    environment: { type: 'string' },
    'deployment-id': { type: 'string' },
    to: { type: 'string' },
    reason: { type: 'string' },
    evidence: { type: 'string' },
    'dry-run': { type: 'boolean' },
  });
  if (typeof args === 'number') return args;
  let evidence: AnalysisReport | undefined;
  const evidenceFile = args.string('evidence');
  if (evidenceFile !== undefined) {
    try {
      evidence = JSON.parse(readFileSync(evidenceFile, 'utf8')) as AnalysisReport;
      if (typeof evidence?.summary !== 'string' || !Array.isArray(evidence.checks)) throw new Error('not a report of cc-ops analyze');
    } catch (err) {
      return usageError('rollback', `--evidence ${evidenceFile}: ${errorMessage(err)}`, USAGE);
    }
  }
  const environment = args.string('environment') ?? 'production';
  if (environment.trim() === '') return usageError('rollback', '--environment must not be empty', USAGE);
  const settings = settingsOrExit('rollback', { database: true, vercel: true });
  if (typeof settings === 'number') return settings;
  const db = await connectOrExit('rollback', settings);
  if (typeof db === 'number') return db;
  try {
    const dryRun = args.flag('dry-run');
    const outcome = await rollBack({
      db,
      settings,
      say: (line) => console.log(`rollback: ${dryRun ? '[dry run] ' : ''}${line}`),
      warn: (line) => console.error(`rollback: ${line}`),
    }, {
      environment,
      failedId: args.string('deployment-id'),
      targetId: args.string('to'),
      reason: args.string('reason') ?? (evidence ? `metric analysis: ${evidence.summary}` : 'smoke tests failed'),
      evidence: evidence ? evidenceOf(evidence) : undefined,
      dryRun,
    });
    return exitCode(outcome);
  } catch (err) {
    console.error(`rollback: ${errorMessage(err)}`);
    return 1;
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** exit: 0 rolled back, 1 not rolled back (or nothing to roll back to), 2 bad usage, 3 rolled back with warnings */
export function exitCode(o: RollbackOutcome): number {
  switch (o.outcome) {
    case 'refused':
      return 2;
    case 'nothing_to_roll_back':
    case 'failed':
      return 1;
    case 'already_rolled_back':
      return 0;
    case 'dry_run':
      return o.target ? 0 : 1;
    case 'rolled_back':
      return o.warnings.length > 0 ? 3 : 0;
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();

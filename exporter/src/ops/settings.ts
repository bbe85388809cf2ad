// The settings of the ops CLI (cc-ops and npm run stack): the one place its commands read the
// environment. Each command asks for what it uses and gets it validated at its edge (its run()),
// every problem listed at once and exit code 2; nothing else in the environment matters to it,
// so a broken exporter setting beside DATABASE_URL (EXPORTER_PORT=abc) never stops a backup.
// DATABASE_URL is read and checked as the exporter reads it (../config.ts: the variable or its
// _FILE, a postgres:// URL, the password never shown); the deploy commands' part (Grafana,
// Vercel, Alertmanager, Prometheus) is ./deploy/settings.ts.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, editDistance, logLevelProblem, readDatabaseUrl, type LogLevel } from '../config.js';
import { nonEmpty, type Env } from '../env.js';
import { loadDeploySettings, type DeploySettings, type Needs as DeployNeeds } from './deploy/settings.js';

export const OPS_DEFAULTS = {
  BACKUP_DIR: 'backups',
  /** in the system's temporary directory */
  STACK_DIR: join(tmpdir(), 'cc-stack'),
} as const;

/** What a command uses beyond the plain values, each validated only when asked for. */
export interface OpsNeeds {
  /** DATABASE_URL (or DATABASE_URL_FILE): migrate, backup, restore, alerts. Unset is not a problem here: the command says what it names. */
  database?: boolean;
  /** LOG_LEVEL: migrate's log lines, and the exporter npm run stack starts */
  logLevel?: boolean;
  /** the deploy commands' settings (deploy, analyze, rollback, annotate): what each of them needs */
  deploy?: DeployNeeds;
}

export interface OpsSettings {
  /** DATABASE_URL or the file DATABASE_URL_FILE, a postgres:// connection string; undefined when unset or not asked for */
  databaseUrl: string | undefined;
  /** LOG_LEVEL; undefined when unset (each command has its default) or not asked for */
  logLevel: LogLevel | undefined;
  /** BACKUP_DIR: where backup and restore keep backups (default ./backups, relative to the working directory); --dir overrides it */
  backupDir: string;
  /** GITHUB_ACTOR: who deployed, when deploy start has no --deployed-by */
  githubActor: string | undefined;
  /** USER: who acknowledges, when alerts ack has no --by (the account's name when unset) */
  user: string | undefined;
  /** VERCEL_AUTOMATION_BYPASS_SECRET: smoke sends it as x-vercel-protection-bypass (Vercel's deployment protection) */
  vercelBypassSecret: string | undefined;
  /** STACK_DIR: npm run stack's configs, data and secret files (default <tmpdir>/cc-stack) */
  stackDir: string;
  /** the deploy commands' settings; undefined when not asked for */
  deploy: DeploySettings | undefined;
}

/** The settings `needs` asks for, from `env`; a ConfigError listing every problem. */
export function loadOpsSettings(env: Env, needs: OpsNeeds = {}): OpsSettings {
  const problems: string[] = [];

  let databaseUrl: string | undefined;
  if (needs.database) {
    databaseUrl = readDatabaseUrl(env, problems);
    if (databaseUrl === undefined && !problems.some((p) => p.startsWith('DATABASE_URL'))) {
      const nearMiss = nearDatabaseUrl(env);
      if (nearMiss) problems.push(`${nearMiss.name} is set but DATABASE_URL is not: did you mean ${nearMiss.wanted}?`);
    }
  }

  let logLevel: LogLevel | undefined;
  if (needs.logLevel) {
    const raw = nonEmpty(env.LOG_LEVEL);
    const problem = raw === undefined ? undefined : logLevelProblem(raw);
    if (problem !== undefined) problems.push(problem);
    else logLevel = raw as LogLevel | undefined;
  }

  let deploy: DeploySettings | undefined;
  if (needs.deploy) {
    try {
      deploy = loadDeploySettings(env, needs.deploy);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }

  // DATABASE_URL's own problems come once even when two parts read it.
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);

  return {
    databaseUrl,
    logLevel,
    backupDir: nonEmpty(env.BACKUP_DIR) ?? OPS_DEFAULTS.BACKUP_DIR,
    githubActor: nonEmpty(env.GITHUB_ACTOR),
    user: nonEmpty(env.USER),
    vercelBypassSecret: nonEmpty(env.VERCEL_AUTOMATION_BYPASS_SECRET),
    stackDir: nonEmpty(env.STACK_DIR) ?? OPS_DEFAULTS.STACK_DIR,
    deploy,
  };
}

/**
 * The settings `needs` asks for, from this process's environment (the only read of it in the
 * ops commands), or exit code 2 after saying every problem, prefixed with the command.
 */
export function opsSettingsOrExit(command: string, needs: OpsNeeds = {}): OpsSettings | number {
  try {
    return loadOpsSettings(process.env, needs);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${command}: ${err.message}`);
    return 2;
  }
}

/** A set variable one or two letters away from DATABASE_URL or DATABASE_URL_FILE (DATABSE_URL=…), as the exporter names it. */
function nearDatabaseUrl(env: Env): { name: string; wanted: string } | undefined {
  const near = Object.keys(env)
    .filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name) && nonEmpty(env[name]) !== undefined)
    .flatMap((name) => ['DATABASE_URL', 'DATABASE_URL_FILE'].map((wanted) => ({ name, wanted, distance: name === wanted ? 0 : editDistance(name, wanted) })))
    .filter((n) => n.distance > 0 && n.distance <= 2)
    .sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name));
  return near[0] && { name: near[0].name, wanted: near[0].wanted };
}

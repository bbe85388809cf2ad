// Settings of the deploy commands (deploy, analyze, rollback, annotate): the deploy part of the
// ops CLI's settings (../settings.ts, which calls this with the environment it reads), validated
// like the exporter's: every problem listed at once, secrets from NAME or NAME_FILE.
// Each command asks only for the parts it uses, so `cc-ops annotate` needs no database.
import { ConfigError } from '../../config.js';
import { nonEmpty, readSecret, type Env } from '../../env.js';
import type { PrometheusSettings } from './analysis.js';

export const DEPLOY_DEFAULTS = {
  VERCEL_API_URL: 'https://api.vercel.com',
  OPS_HTTP_TIMEOUT_MS: '10000',
} as const;

export interface GrafanaSettings {
  /** Grafana's base URL, e.g. https://grafana.example.com */
  url: string;
  /** a service-account token (Editor or the annotations:write permission) */
  token: string;
}

export interface VercelSettings {
  apiUrl: string;
  token: string;
  projectId: string;
  /** the team that owns the project, when it is not a personal account */
  teamId: string | undefined;
}

export interface AlertmanagerSettings {
  /** Alertmanager's base URL, e.g. http://alertmanager:9093 */
  url: string;
  /** a bearer token, when Alertmanager sits behind an authenticating proxy */
  token: string | undefined;
}

export interface DeploySettings {
  databaseUrl: string | undefined;
  /** undefined: GRAFANA_URL is not set, annotations are skipped (and said so) */
  grafana: GrafanaSettings | undefined;
  vercel: VercelSettings | undefined;
  /** undefined: ALERTMANAGER_URL is not set, no alert is pushed (and said so) */
  alertmanager: AlertmanagerSettings | undefined;
  /** PROMETHEUS_URL (and PROMETHEUS_TOKEN behind an authenticating proxy), for the metric analysis */
  prometheus: PrometheusSettings | undefined;
  /** the timeout of every HTTP call to Grafana, Vercel and Alertmanager */
  httpTimeoutMs: number;
  /** the CI run that acted, for links in annotations and alerts (GitHub's own variables) */
  runUrl: string | undefined;
}

export interface Needs {
  database?: boolean;
  vercel?: boolean;
  prometheus?: boolean;
}

export function loadDeploySettings(env: Env, needs: Needs = {}): DeploySettings {
  const problems: string[] = [];
  const value = (name: string) => nonEmpty(env[name]);
  const secret = (name: string): string | undefined => readSecret(env, name, problems);
  const httpUrl = (name: string, raw: string | undefined): string | undefined => {
    if (raw === undefined) return undefined;
    try {
      const url = new URL(raw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
      return raw.replace(/\/+$/, '');
    } catch {
      problems.push(`${name} must be an http(s) URL`);
      return undefined;
    }
  };

  const databaseUrl = secret('DATABASE_URL');
  if (needs.database && databaseUrl === undefined && !problems.some((p) => p.startsWith('DATABASE_URL'))) {
    problems.push('DATABASE_URL (or DATABASE_URL_FILE) is not set: it names the database that holds deployment_log');
  }

  let grafana: GrafanaSettings | undefined;
  const grafanaUrl = httpUrl('GRAFANA_URL', value('GRAFANA_URL'));
  const grafanaToken = secret('GRAFANA_TOKEN');
  if (grafanaUrl !== undefined) {
    if (grafanaToken === undefined) problems.push('GRAFANA_URL is set but GRAFANA_TOKEN (or GRAFANA_TOKEN_FILE) is not: a service-account token is needed to annotate');
    else grafana = { url: grafanaUrl, token: grafanaToken };
  }

  let vercel: VercelSettings | undefined;
  if (needs.vercel) {
    const token = secret('VERCEL_TOKEN');
    const projectId = value('VERCEL_PROJECT_ID');
    if (token === undefined && !problems.some((p) => p.startsWith('VERCEL_TOKEN'))) problems.push('VERCEL_TOKEN (or VERCEL_TOKEN_FILE) is not set');
    if (projectId === undefined) problems.push('VERCEL_PROJECT_ID is not set (the project id, prj_…, or its name)');
    const apiUrl = httpUrl('VERCEL_API_URL', value('VERCEL_API_URL') ?? DEPLOY_DEFAULTS.VERCEL_API_URL);
    if (token !== undefined && projectId !== undefined && apiUrl !== undefined) {
      vercel = { apiUrl, token, projectId, teamId: value('VERCEL_TEAM_ID') ?? value('VERCEL_ORG_ID') };
    }
  }

  let alertmanager: AlertmanagerSettings | undefined;
  const alertmanagerUrl = httpUrl('ALERTMANAGER_URL', value('ALERTMANAGER_URL'));
  const alertmanagerToken = secret('ALERTMANAGER_TOKEN');
  if (alertmanagerUrl !== undefined) alertmanager = { url: alertmanagerUrl, token: alertmanagerToken };

  let prometheus: PrometheusSettings | undefined;
  const prometheusUrl = httpUrl('PROMETHEUS_URL', value('PROMETHEUS_URL'));
  const prometheusToken = secret('PROMETHEUS_TOKEN');
  if (prometheusUrl !== undefined) prometheus = { url: prometheusUrl, token: prometheusToken };
  else if (needs.prometheus && !problems.some((p) => p.startsWith('PROMETHEUS_URL'))) problems.push('PROMETHEUS_URL is not set: it names the Prometheus that scrapes the exporter');

  const rawTimeout = value('OPS_HTTP_TIMEOUT_MS') ?? DEPLOY_DEFAULTS.OPS_HTTP_TIMEOUT_MS;
  let httpTimeoutMs = Number(rawTimeout);
  if (!/^\d+$/.test(rawTimeout) || httpTimeoutMs < 100 || httpTimeoutMs > 300_000) {
    problems.push(`OPS_HTTP_TIMEOUT_MS must be a whole number from 100 to 300000, got "${rawTimeout}"`);
    httpTimeoutMs = Number(DEPLOY_DEFAULTS.OPS_HTTP_TIMEOUT_MS);
  }

  if (problems.length > 0) throw new ConfigError(problems);

  const server = value('GITHUB_SERVER_URL');
  const repository = value('GITHUB_REPOSITORY');
  const runId = value('GITHUB_RUN_ID');
  const runUrl = server && repository && runId ? `${server}/${repository}/actions/runs/${runId}` : undefined;

  return { databaseUrl, grafana, vercel, alertmanager, prometheus, httpTimeoutMs, runUrl };
}

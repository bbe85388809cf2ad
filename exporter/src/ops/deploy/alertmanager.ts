// Pushing an alert straight to Alertmanager (POST /api/v2/alerts), for events that no Prometheus
// rule sees in time: a rollback is known to the CLI the moment it happens. The alert is routed,
// grouped, inhibited and silenced like every alert Prometheus sends; it resolves at endsAt.
import { requestJson } from './http.js';
import type { AlertmanagerSettings } from './settings.js';

export interface PushedAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

export const RUNBOOKS_URL = 'https://github.com/camerons-connect/connect-observability/blob/main/docs/runbooks.md';
/** The Deployment history panel of System Health (fixed panel id, see grafana/src/system-health.ts), on GRAFANA_URL when set. */
export function deploymentsDashboardUrl(grafanaUrl = 'http://localhost:3000'): string {
  return `${grafanaUrl.replace(/\/+$/, '')}/d/cc-system-health/system-health?viewPanel=panel-107`;
}

export async function pushAlerts(settings: AlertmanagerSettings, alerts: PushedAlert[], timeoutMs: number): Promise<void> {
  await requestJson({
    method: 'POST',
    url: `${settings.url}/api/v2/alerts`,
    what: 'Alertmanager: push alert',
    headers: settings.token ? { authorization: `Bearer ${settings.token}` } : {},
    body: alerts,
    timeoutMs,
  });
}

// Vercel's REST API: Instant Rollback of a project's production domains to an earlier deployment.
//
// POST /v1/projects/{projectId}/rollback/{deploymentId}?description=…&teamId=… points the
// production domains at a deployment that already served production, without rebuilding it
// (seconds, not a build), and records the reason; it is what `vercel rollback` does. The other
// candidate, POST /v10/projects/{projectId}/promote/{deploymentId}, is meant for a deployment that
// never served production. After an Instant Rollback Vercel stops assigning production domains to
// new deployments until one is promoted, which is why the deploy workflow promotes explicitly.
// Vercel answers 201 once it has accepted the rollback; the switch itself takes seconds.
import { requestJson } from './http.js';
import type { VercelSettings } from './settings.js';

export interface VercelClient {
  /** the request that rollback() sends, for --dry-run */
  describeRollback(targetDeploymentId: string): string;
  rollback(targetDeploymentId: string, description: string): Promise<void>;
}

export function createVercelClient(settings: VercelSettings, timeoutMs: number): VercelClient {
  const rollbackUrl = (target: string, description?: string) => {
    const url = new URL(`${settings.apiUrl}/v1/projects/${encodeURIComponent(settings.projectId)}/rollback/${encodeURIComponent(target)}`);
    if (description !== undefined) url.searchParams.set('description', description.slice(0, 256));
    if (settings.teamId) url.searchParams.set('teamId', settings.teamId);
    return url.toString();
  };
  return {
    describeRollback(target) {
      return `POST ${rollbackUrl(target)}`;
    },
    async rollback(target, description) {
      await requestJson({
        method: 'POST',
        url: rollbackUrl(target, description),
        what: `Vercel: roll back to ${target}`,
        headers: { authorization: `Bearer ${settings.token}` },
        timeoutMs,
      });
    },
  };
}

// Grafana annotations through its HTTP API (POST /api/annotations, PATCH /api/annotations/:id),
// authenticated with a service-account token. Organization-wide annotations (no dashboard):
// dashboards show them through an annotation query on the `deploy` tag.
import { requestJson } from './http.js';
import type { GrafanaSettings } from './settings.js';

export interface NewAnnotation {
  /** start, Unix milliseconds */
  time: number;
  /** end of the region, Unix milliseconds; absent for a point in time */
  timeEnd?: number;
  tags: string[];
  text: string;
}

export interface AnnotationChange {
  timeEnd?: number;
  tags?: string[];
  text?: string;
}

export interface GrafanaClient {
  /** creates the annotation and returns its id */
  createAnnotation(annotation: NewAnnotation): Promise<number>;
  updateAnnotation(id: number, change: AnnotationChange): Promise<void>;
}

export function createGrafanaClient(settings: GrafanaSettings, timeoutMs: number): GrafanaClient {
  const headers = { authorization: `Bearer ${settings.token}` };
  return {
    async createAnnotation(annotation) {
      const body = await requestJson<{ id?: unknown }>({
        method: 'POST', url: `${settings.url}/api/annotations`, what: 'Grafana: create annotation', headers, body: annotation, timeoutMs,
      });
      const id = body?.id;
      if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw new Error(`Grafana: create annotation: the answer has no annotation id`);
      return id;
    },
    async updateAnnotation(id, change) {
      await requestJson({
        method: 'PATCH', url: `${settings.url}/api/annotations/${id}`, what: `Grafana: update annotation ${id}`, headers, body: change, timeoutMs,
      });
    },
  };
}

/** Grafana tags stay short and free of commas; longer values are cut. */
export function tag(name: string, value: string): string {
  return `${name}:${value.replace(/[,\s]+/g, '_').slice(0, 64)}`;
}

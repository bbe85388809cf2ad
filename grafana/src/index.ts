// The dashboards, by the file each is generated into under grafana/dashboards/. The only list.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { exporter } from './exporter-dashboard.js';
import { DEFAULT_SELECTORS, withSelectors, type Selectors } from './selectors.js';
import { systemHealth } from './system-health.js';
import { webVitals } from './web-vitals.js';

/**
 * Each dashboard with the job selectors of `selectors.ts` in every query: the defaults are what
 * is committed and provisioned; other selectors are what the mixin renders for another `_config`.
 */
export const DASHBOARDS: Record<string, (selectors?: Selectors) => Dashboard> = {
  'system-health.json': (selectors = DEFAULT_SELECTORS) => finalize(systemHealth().build(), selectors),
  'web-vitals.json': (selectors = DEFAULT_SELECTORS) => finalize(webVitals().build(), selectors),
  'exporter.json': (selectors = DEFAULT_SELECTORS) => finalize(exporter().build(), selectors),
};

/**
 * Stable panel ids (links to a panel use them) and query refIds (table columns and overrides
 * name them), assigned in order where the code did not set them; the job selectors in every query.
 */
export function finalize(board: Dashboard, selectors: Selectors = DEFAULT_SELECTORS): Dashboard {
  const taken = new Set((board.panels ?? []).map((p) => p.id).filter((id) => id));
  let nextId = 1;
  for (const panel of board.panels ?? []) {
    if (!panel.id) {
      // the SDK's rows default to 0; fixed ids (link targets) are never reused
      while (taken.has(nextId)) nextId += 1;
      panel.id = nextId;
      taken.add(nextId);
    }
    const targets = (panel as { targets?: { refId?: string }[] }).targets ?? [];
    targets.forEach((target, i) => {
      target.refId ??= String.fromCharCode(65 + i);
    });
  }
  return withSelectors(board, selectors);
}

/** A dashboard as committed: stable key order of the SDK's output, two-space indent, final newline. */
export function render(board: Dashboard): string {
  return `${JSON.stringify(board, null, 2)}\n`;
}

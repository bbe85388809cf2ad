// Which alerts the Active alerts panels show, and where each is read from. Connect's alerts come
// two ways: the mixin's rules, which Prometheus evaluates (they are its ALERTS series, live even
// while the exporter or Postgres is down), and the alerts cc-ops pushes straight to Alertmanager
// (POST /api/v2/alerts), which no Prometheus ever sees. Those are read from alert_history, which the
// exporter fills from Alertmanager's notifications and reconciles with Alertmanager's own list.
// Each alert name is read from exactly one place, so nothing is counted twice.
import { readFileSync } from 'node:fs';

const RULE_FILE = new URL('../../prometheus/rules/connect.yml', import.meta.url);

/** The alerts of the mixin's rule file (npm run rules renders it), each name once, in file order. */
export function ruleAlertNames(text = readFileSync(RULE_FILE, 'utf8')): string[] {
  return [...new Set([...text.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]!))];
}

/**
 * The alerts cc-ops pushes to Alertmanager (exporter/src/ops/rollback.ts): a rollback, and a
 * rollback that failed. DeploymentRolledBack is also a rule (on cc_deployment_rollbacks_total);
 * its pushed occurrence and the rule's are both in alert_history, so it is read from there.
 * dashboards.test.ts derives this list from the code that pushes and fails when it differs.
 */
export const PUSHED_ALERTS = ['DeploymentRolledBack', 'DeploymentRollbackFailed'] as const;

/** Always firing by design (the dead man's switch): never an active problem. */
export const HEARTBEAT_ALERTS = ['Watchdog'] as const;

/** The alerts read from Prometheus's ALERTS: every rule's, but the pushed ones and the heartbeat. */
export function prometheusAlertNames(): string[] {
  const skip = new Set<string>([...PUSHED_ALERTS, ...HEARTBEAT_ALERTS]);
  return ruleAlertNames().filter((name) => !skip.has(name));
}

/** ALERTS series of firing alerts read from Prometheus, with extra matchers (`severity="critical"`). */
export function firingAlertsSelector(extra = ''): string {
  return `ALERTS{alertstate="firing", alertname=~"${prometheusAlertNames().join('|')}"${extra ? `, ${extra}` : ''}}`;
}

/** SQL: the firing occurrences in alert_history of the alerts read from there. */
export const PUSHED_FIRING = `status = 'firing' AND alertname IN (${PUSHED_ALERTS.map((a) => `'${a}'`).join(', ')})`;

// The thresholds the dashboards draw and state, and the ids of the panels alerts link to: one
// source, thresholds.json at the root of the repository, which the monitoring mixin's _config
// (prometheus/config.libsonnet) reads for its defaults too. Read at run time (from src/ in tests,
// from dist/ in npm run dashboards: both two levels under the root), because the dashboards'
// build compiles nothing outside grafana/src. web-otel rates vitals with web-vitals' own
// thresholds, the exporter has its defaults in its config: thresholds.test.ts checks that they agree.
import { readFileSync } from 'node:fs';

export type VitalName = 'LCP' | 'INP' | 'CLS' | 'FCP' | 'TTFB';

export interface Thresholds {
  /** the alerts' thresholds: the defaults of the mixin's _config fields of the same names */
  alerts: {
    highErrorRateThreshold: number;
    highApiLatencyThresholdSeconds: number;
    apiMinRequests: number;
    stuckOrdersThreshold: number;
    paymentFailuresThreshold: number;
    lowDiskSpaceWarningThreshold: number;
    lowDiskSpaceCriticalThreshold: number;
    dbConnectionSaturationThreshold: number;
    eventCursorBehindSeconds: number;
    backupMaxAgeHours: number;
    maintenanceMaxAgeMinutes: number;
  };
  /** the exporter's defaults the dashboards state (STUCK_ORDER_THRESHOLDS, AUTO_HEAL_THRESHOLDS) */
  exporterDefaults: {
    stuckOrderMinutes: number;
    autoHealPreparingMinutes: number;
    autoHealReadyMinutes: number;
    /** MAINTENANCE_INTERVAL, and pg_cron's schedule (sql/migrations/007_maintenance_schedule.sql) */
    maintenanceIntervalMinutes: number;
  };
  /** good up to `good`, poor above `poor`: milliseconds (CLS unitless), as web-vitals publishes them */
  webVitals: Record<VitalName, { good: number; poor: number }>;
  systemHealth: {
    uid: string;
    /** panels alerts link to (dashboard_url …?viewPanel=panel-<id>): fixed, so links survive edits */
    linkedPanels: Record<'apiErrors' | 'apiLatency' | 'stuckOrders' | 'paymentFailures' | 'dbSize' | 'dbConnections' | 'deployments' | 'backups', number>;
  };
}

export const THRESHOLDS_FILE = new URL('../../thresholds.json', import.meta.url);

export const THRESHOLDS: Thresholds = JSON.parse(readFileSync(THRESHOLDS_FILE, 'utf8')) as Thresholds;

/** 0.05 -> "5": a ratio as a percentage, without binary noise (0.05 * 100 is 5.000000000000001). */
export function percentOf(ratio: number): string {
  return String(Number((ratio * 100).toPrecision(12)));
}

/** 300 -> "5 minutes", 90 -> "90 seconds", 3600 -> "1 hour" */
export function spokenSeconds(seconds: number): string {
  const [amount, unit] = seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : seconds % 60 === 0 ? [seconds / 60, 'minute'] : [seconds, 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

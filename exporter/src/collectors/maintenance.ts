// Scheduled maintenance, from the `maintenance` events run_system_maintenance() writes whoever
// ran it (pg_cron or an exporter's scheduler): when it last ran and how long that took.
import { optionalGauge } from './optional-gauge.js';
import type { CollectorFactory } from './types.js';

export const LAST_MAINTENANCE_QUERY = `
SELECT extract(epoch FROM created_at)::double precision AS last_run_seconds,
       (event_data ->> 'duration_ms')::double precision / 1000 AS duration_seconds
  FROM public.runtime_metrics
 WHERE event_type = 'maintenance'
   AND created_at <= now() + interval '5 minutes' -- a row dated in the future is not a run
 ORDER BY created_at DESC
 LIMIT 1`;

export const createMaintenanceCollector: CollectorFactory = (registry) => {
  const lastRun = optionalGauge({
    name: 'cc_maintenance_last_run_timestamp_seconds',
    help: 'When run_system_maintenance() last ran to completion (by pg_cron or an exporter), in Unix seconds.',
    registers: [registry],
  });
  const lastDuration = optionalGauge({
    name: 'cc_maintenance_last_duration_seconds',
    help: 'How long the last completed run_system_maintenance() took.',
    registers: [registry],
  });

  return {
    name: 'maintenance',
    async collect(db) {
      const { rows } = await db.query<{ last_run_seconds: number; duration_seconds: number | null }>(LAST_MAINTENANCE_QUERY);
      const row = rows[0];
      this.clear();
      if (!row) return;
      lastRun.set(row.last_run_seconds);
      if (row.duration_seconds !== null && Number.isFinite(row.duration_seconds)) lastDuration.set(row.duration_seconds);
    },
    clear() {
      lastRun.clear();
      lastDuration.clear();
    },
  };
};

// Backups, from the `backup` events the ops CLI writes: when the last successful one finished.
// Read from the table at every scrape, so a restarted exporter still knows (an in-process
// counter would make the backup look missing after every restart). A row dated in the future is
// forged or from a broken clock, and would hide a missing backup until that date: ignored.
import { optionalGauge } from './optional-gauge.js';
import type { CollectorFactory } from './types.js';

export const LAST_BACKUP_QUERY = `
SELECT extract(epoch FROM max(created_at))::double precision AS last_success_seconds
  FROM public.runtime_metrics
 WHERE event_type = 'backup' AND event_data ->> 'status' = 'success'
   AND created_at <= now() + interval '5 minutes'`;

export const createBackupsCollector: CollectorFactory = (registry) => {
  const lastSuccess = optionalGauge({
    name: 'cc_backup_last_success_timestamp_seconds',
    help: 'When the last successful database backup finished, in Unix seconds.',
    registers: [registry],
  });

  return {
    name: 'backups',
    async collect(db) {
      const { rows } = await db.query<{ last_success_seconds: number | null }>(LAST_BACKUP_QUERY);
      const seconds = rows[0]?.last_success_seconds ?? null;
      // No successful backup on record: no sample (the alert reads absence separately), never a 0.
      if (seconds === null) lastSuccess.clear();
      else lastSuccess.set(seconds);
    },
    clear() {
      lastSuccess.clear();
    },
  };
};

// Who may be paged by SMS, decided in Postgres so every exporter replica agrees (Alertmanager's
// webhook reaches any of them):
// - a cooldown per alert group (observability.sms_pages): at most one FIRING page per group and
//   SMS_COOLDOWN, however often the alert flaps (the old system's cooldown_minutes); the
//   RESOLVED text only of an occurrence that paged; every occurrence is still in alert_history;
// - an acknowledgement (alert_history.acknowledged_at) holds back the repeated pages of that
//   occurrence for the cooldown; the next occurrence is not acknowledged and pages again.
// Retries of one notification (the same alerts and statuses) pass again: the sender's per-
// recipient memory keeps them from texting anyone twice. When Postgres cannot answer, or the
// table is missing (migration 010 not applied), the gate opens: a page twice beats none.
import { createHash } from 'node:crypto';
import type { Queryable } from '../db.js';
import type { WebhookPayload } from './payload.js';

export type GateDecision = 'page' | 'cooldown' | 'acknowledged' | 'not_paged';

export interface SmsGate {
  decide(payload: WebhookPayload, notification: string): Promise<{ decision: GateDecision; error?: unknown }>;
}

const ACKNOWLEDGED = `
SELECT count(*) FILTER (WHERE h.acknowledged_at > now() - make_interval(secs => $3::double precision / 1000))::integer AS acknowledged
  FROM unnest($1::text[], $2::timestamptz[]) AS a(fingerprint, starts_at)
  JOIN public.alert_history h USING (fingerprint, starts_at)`;

const CLAIM_FIRING = `
INSERT INTO observability.sms_pages AS p (group_key, alertname, firing_sent_at, firing_notification, resolved_pending)
VALUES ($1, $2, now(), $3, true)
    ON CONFLICT (group_key) DO UPDATE
   SET firing_sent_at = now(), firing_notification = excluded.firing_notification, resolved_pending = true,
       alertname = excluded.alertname, updated_at = now()
 WHERE p.firing_sent_at IS NULL
    OR p.firing_sent_at <= now() - make_interval(secs => $4::double precision / 1000)
    OR p.firing_notification = excluded.firing_notification
RETURNING 1`;

const CLAIM_RESOLVED = `
WITH claimed AS (
  UPDATE observability.sms_pages
     SET resolved_pending = false, resolved_notification = $2, updated_at = now()
   WHERE group_key = $1 AND (resolved_pending OR resolved_notification = $2)
  RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM claimed) AS claimed,
       EXISTS (SELECT 1 FROM observability.sms_pages WHERE group_key = $1) AS known`;

const COUNT_SUPPRESSED = `UPDATE observability.sms_pages SET suppressed = suppressed + 1, updated_at = now() WHERE group_key = $1`;

export function createSmsGate(db: Queryable, cooldownMs: number): SmsGate {
  return {
    async decide(payload, notificationKey) {
      // stored as a digest: the key holds NULs (Postgres text cannot) and every alert's labels
      const notification = createHash('sha256').update(notificationKey).digest('hex');
      try {
        if (payload.status === 'firing') {
          const firing = payload.alerts.filter((a) => a.status === 'firing');
          if (firing.length > 0 && cooldownMs > 0) {
            const { rows } = await db.query<{ acknowledged: number }>(ACKNOWLEDGED, [
              firing.map((a) => a.fingerprint), firing.map((a) => a.startsAt.toISOString()), cooldownMs,
            ]);
            if ((rows[0]?.acknowledged ?? 0) === firing.length) {
              await db.query(COUNT_SUPPRESSED, [payload.groupKey]);
              return { decision: 'acknowledged' };
            }
          }
          const alertname = payload.commonLabels.alertname ?? payload.groupLabels.alertname ?? null;
          const claimed = await db.query(CLAIM_FIRING, [payload.groupKey, alertname, notification, cooldownMs]);
          if (claimed.rows.length > 0) return { decision: 'page' };
          await db.query(COUNT_SUPPRESSED, [payload.groupKey]);
          return { decision: 'cooldown' };
        }
        const { rows } = await db.query<{ claimed: boolean; known: boolean }>(CLAIM_RESOLVED, [payload.groupKey, notification]);
        const row = rows[0];
        // A group the gate never saw (its FIRING passed while the gate was open) still gets its RESOLVED.
        return { decision: !row || row.claimed || !row.known ? 'page' : 'not_paged' };
      } catch (error) {
        return { decision: 'page', error };
      }
    },
  };
}

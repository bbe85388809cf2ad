-- Acknowledgement and SMS cooldowns.
--
-- alert_history gains the acknowledgement of an occurrence (who, when, a note), recorded by the
-- exporter's POST /api/alerts/ack (cc-ops alerts ack, the System Health dashboard's link). It is
-- not an Alertmanager silence: a silence that covers the alert's resolution makes Alertmanager
-- drop the next occurrence's FIRING page until repeat_interval (prometheus/alertmanager#226). An
-- acknowledged occurrence's repeated SMS pages are held back for the cooldown; the next
-- occurrence is a new row and pages again.
--
-- It also gains Alertmanager's own view, reconciled from GET /api/v2/alerts by the exporter:
-- silenced or inhibited alerts never reach a webhook, and a row whose alert is gone is closed
-- even when no resolved notification came.
ALTER TABLE public.alert_history
  ADD COLUMN IF NOT EXISTS acknowledged_by text CHECK (char_length(acknowledged_by) BETWEEN 1 AND 100),
  ADD COLUMN IF NOT EXISTS acknowledged_at timestamptz,
  ADD COLUMN IF NOT EXISTS ack_note        text CHECK (char_length(ack_note) <= 1000),
  ADD COLUMN IF NOT EXISTS am_state        text CHECK (am_state IN ('active', 'silenced', 'inhibited', 'gone')),
  ADD COLUMN IF NOT EXISTS silenced_by     text[],
  ADD COLUMN IF NOT EXISTS inhibited_by    text[],
  ADD COLUMN IF NOT EXISTS reconciled_at   timestamptz,
  -- resolved while silenced: Alertmanager sent nothing and still counts the alert as notified
  -- firing, so it would swallow the next occurrence's FIRING page. Once no silence matches, the
  -- exporter sends Alertmanager the resolution ('pending' -> 'replayed'), which clears that;
  -- 'superseded' when the alert fired again first.
  ADD COLUMN IF NOT EXISTS muted_resolution text CHECK (muted_resolution IN ('pending', 'replayed', 'superseded'));

-- The SMS bridge's cooldown, one row per Alertmanager alert group, shared by every exporter
-- replica (Alertmanager's webhook may reach any of them): at most one FIRING page per group and
-- cooldown (SMS_COOLDOWN), and the RESOLVED text only of an occurrence that paged.
CREATE TABLE IF NOT EXISTS observability.sms_pages (
  group_key             text PRIMARY KEY,
  alertname             text,
  firing_sent_at        timestamptz,
  firing_notification   text,
  resolved_pending      boolean NOT NULL DEFAULT false,
  resolved_notification text,
  suppressed            bigint NOT NULL DEFAULT 0,
  updated_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE observability.sms_pages IS
  'The SMS bridge''s cooldown per Alertmanager alert group: when it last paged, whether that page''s RESOLVED is due';

REVOKE ALL ON observability.sms_pages FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON observability.sms_pages TO cc_exporter;
GRANT SELECT ON observability.sms_pages TO cc_grafana;
GRANT ALL ON observability.sms_pages TO service_role;

-- alert_history: one row per alert occurrence, written by Alertmanager's webhook through the
-- exporter (/hooks/alert-history). An occurrence is an alert fingerprint plus its start time;
-- repeated notifications update that row. "Acknowledge" is an Alertmanager silence.

-- Phase 9 had an alert_history keyed by alert_rule_id. Its rows are kept, renamed.
DO $$
BEGIN
  IF to_regclass('public.alert_history') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM information_schema.columns
                      WHERE table_schema = 'public' AND table_name = 'alert_history'
                        AND column_name = 'fingerprint') THEN
    ALTER TABLE public.alert_history RENAME TO alert_history_phase9;
    RAISE NOTICE 'renamed the Phase 9 alert_history to alert_history_phase9';
  END IF;
END $$;

CREATE TABLE IF NOT EXISTS public.alert_history (
  id                 bigserial PRIMARY KEY,
  fingerprint        text NOT NULL,
  alertname          text NOT NULL,
  severity           text,
  status             text NOT NULL CHECK (status IN ('firing', 'resolved')),
  starts_at          timestamptz NOT NULL,
  ends_at            timestamptz,
  labels             jsonb NOT NULL DEFAULT '{}'::jsonb,
  annotations        jsonb NOT NULL DEFAULT '{}'::jsonb,
  generator_url      text,
  receiver           text,
  notifications      integer NOT NULL DEFAULT 1,
  first_received_at  timestamptz NOT NULL DEFAULT now(),
  last_received_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT alert_history_occurrence_key UNIQUE (fingerprint, starts_at)
);

CREATE INDEX IF NOT EXISTS alert_history_starts_at_idx ON public.alert_history (starts_at DESC);
CREATE INDEX IF NOT EXISTS alert_history_firing_idx ON public.alert_history (alertname) WHERE status = 'firing';

ALTER TABLE public.alert_history ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS alert_history_exporter ON public.alert_history;
CREATE POLICY alert_history_exporter ON public.alert_history
  FOR ALL TO cc_exporter USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS alert_history_read ON public.alert_history;
CREATE POLICY alert_history_read ON public.alert_history
  FOR SELECT TO cc_grafana USING (true);
DROP POLICY IF EXISTS alert_history_service_all ON public.alert_history;
CREATE POLICY alert_history_service_all ON public.alert_history
  FOR ALL TO service_role USING (true) WITH CHECK (true);

REVOKE ALL ON public.alert_history FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON public.alert_history TO cc_exporter;
GRANT SELECT ON public.alert_history TO cc_grafana;
GRANT ALL ON public.alert_history TO service_role;
GRANT USAGE ON SEQUENCE public.alert_history_id_seq TO cc_exporter, service_role;

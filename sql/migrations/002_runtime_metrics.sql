-- runtime_metrics: the append-only event log written by the browser (through the exporter's
-- OTLP receiver or directly, as the old metrics.ts does), edge functions and triggers.
-- Row shapes per event_type are documented in sql/README.md.

CREATE TABLE IF NOT EXISTS public.runtime_metrics (
  id          bigserial PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now(),
  user_id     uuid,
  session_id  text,
  event_type  text NOT NULL,
  event_data  jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- The writing transaction's id. BIGSERIAL ids commit out of order, so the exporter reads
-- with the settled cursor (tx, id) > (last) AND tx < pg_snapshot_xmin(pg_current_snapshot()).
-- On an existing table this rewrites it once; old rows get the migration's transaction id.
ALTER TABLE public.runtime_metrics
  ADD COLUMN IF NOT EXISTS tx xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE INDEX IF NOT EXISTS runtime_metrics_tx_id_idx ON public.runtime_metrics (tx, id);
CREATE INDEX IF NOT EXISTS runtime_metrics_created_at_idx ON public.runtime_metrics (created_at);
CREATE INDEX IF NOT EXISTS runtime_metrics_event_type_idx ON public.runtime_metrics (event_type, created_at);

-- Row level security: browsers (anon, authenticated) may only append, and only reasonable rows;
-- reading is for the service role, the exporter and Grafana.
ALTER TABLE public.runtime_metrics ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS runtime_metrics_client_insert ON public.runtime_metrics;
CREATE POLICY runtime_metrics_client_insert ON public.runtime_metrics
  FOR INSERT TO anon, authenticated
  WITH CHECK (char_length(event_type) <= 64 AND pg_column_size(event_data) <= 65536);

DROP POLICY IF EXISTS runtime_metrics_exporter_insert ON public.runtime_metrics;
CREATE POLICY runtime_metrics_exporter_insert ON public.runtime_metrics
  FOR INSERT TO cc_exporter
  WITH CHECK (true);

DROP POLICY IF EXISTS runtime_metrics_read ON public.runtime_metrics;
CREATE POLICY runtime_metrics_read ON public.runtime_metrics
  FOR SELECT TO service_role, cc_exporter, cc_grafana
  USING (true);

DROP POLICY IF EXISTS runtime_metrics_service_all ON public.runtime_metrics;
CREATE POLICY runtime_metrics_service_all ON public.runtime_metrics
  FOR ALL TO service_role
  USING (true) WITH CHECK (true);

-- Clients name only the payload columns: id and tx are never theirs to choose (a forged tx
-- could hide a row from the cursor).
REVOKE ALL ON public.runtime_metrics FROM PUBLIC, anon, authenticated, cc_exporter, cc_grafana;
GRANT INSERT (created_at, user_id, session_id, event_type, event_data)
  ON public.runtime_metrics TO anon, authenticated, cc_exporter;
GRANT SELECT ON public.runtime_metrics TO cc_exporter, cc_grafana;
GRANT ALL ON public.runtime_metrics TO service_role;
GRANT USAGE ON SEQUENCE public.runtime_metrics_id_seq TO anon, authenticated, cc_exporter, service_role;

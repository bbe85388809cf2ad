-- Row rights on runtime_metrics. The anon key is public: every visitor holds it, so a browser
-- role must not be able to write a row that pages someone, hides a missing backup or invents
-- revenue. From here:
--
--   * anon and authenticated may insert only the browser's event types (page_view, api_latency,
--     error, user_action, performance), dated by the database: a created_at outside the last
--     5 minutes becomes now();
--   * the server-only types (payment_failure, edge_function, backup, restore, maintenance,
--     deployment, order_event, auto_heal, and any type not named here) are written by the
--     exporter's role (its OTLP receiver admits them only from a request carrying
--     OTLP_SERVER_TOKEN), service_role (edge functions, the ops CLI) or SECURITY DEFINER
--     functions (the order trigger, auto-heal, maintenance), whoever called them;
--   * no writer dates a row in the future: a later created_at becomes now(). Rows already in
--     the future (written before this migration) are ignored by the collectors and pruned by
--     cleanup_old_metrics().

CREATE OR REPLACE FUNCTION observability.date_runtime_metric() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  -- current_user is the writer here (this function is not SECURITY DEFINER); inside a
  -- SECURITY DEFINER function it is that function's owner.
  IF current_user IN ('anon', 'authenticated') THEN
    IF NEW.created_at IS NULL OR NEW.created_at > now() OR NEW.created_at < now() - interval '5 minutes' THEN
      NEW.created_at := now();
    END IF;
  ELSIF NEW.created_at IS NULL OR NEW.created_at > now() THEN
    NEW.created_at := now();
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION observability.date_runtime_metric() FROM PUBLIC;

DROP TRIGGER IF EXISTS runtime_metrics_dated ON public.runtime_metrics;
CREATE TRIGGER runtime_metrics_dated
  BEFORE INSERT OR UPDATE OF created_at ON public.runtime_metrics
  FOR EACH ROW EXECUTE FUNCTION observability.date_runtime_metric();

-- The policy is checked after the trigger has dated the row, so the window always holds for a
-- browser row; it is stated here too so that the policy alone reads as the whole rule.
DROP POLICY IF EXISTS runtime_metrics_client_insert ON public.runtime_metrics;
CREATE POLICY runtime_metrics_client_insert ON public.runtime_metrics
  FOR INSERT TO anon, authenticated
  WITH CHECK (
    event_type IN ('page_view', 'api_latency', 'error', 'user_action', 'performance')
    AND created_at BETWEEN now() - interval '5 minutes' AND now()
    AND pg_column_size(event_data) <= 65536);

-- Retention also prunes rows dated more than 5 minutes ahead (none can be written any more;
-- older installs may hold forged ones, such as a backup "succeeded" in 2099).
CREATE OR REPLACE FUNCTION public.cleanup_old_metrics(p_retention_days integer DEFAULT 30) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_deleted bigint;
BEGIN
  IF p_retention_days IS NULL OR p_retention_days < 1 THEN
    RAISE EXCEPTION 'retention must be at least 1 day, got %', p_retention_days;
  END IF;
  DELETE FROM public.runtime_metrics
   WHERE created_at < now() - make_interval(days => p_retention_days)
      OR created_at > now() + interval '5 minutes';
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN v_deleted;
END $$;
REVOKE ALL ON FUNCTION public.cleanup_old_metrics(integer) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.cleanup_old_metrics(integer) TO service_role, cc_exporter;

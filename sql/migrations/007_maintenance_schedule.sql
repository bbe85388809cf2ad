-- Scheduled maintenance: run_system_maintenance() every 15 minutes, by pg_cron where the
-- extension is installed, else by the exporter's scheduler. Exactly one run acts at a time,
-- whoever calls it: the function takes a transaction-level advisory lock and returns
-- {"skipped": true} when another run holds it. Every run that acted leaves a `maintenance`
-- event, so the last run is visible as a metric whichever runner made it.

-- The thresholds became parameters (the defaults are the reference report's 45 min / 2 h and
-- 30 days); the old zero-argument function would make a call without arguments ambiguous.
DROP FUNCTION IF EXISTS public.run_system_maintenance();
CREATE OR REPLACE FUNCTION public.run_system_maintenance(
  p_preparing_minutes integer DEFAULT 45,
  p_ready_minutes     integer DEFAULT 120,
  p_retention_days    integer DEFAULT 30
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_started timestamptz := clock_timestamp();
  v_heal    jsonb;
  v_deleted bigint;
  v_summary jsonb;
BEGIN
  IF coalesce(p_preparing_minutes, 0) < 1 OR coalesce(p_ready_minutes, 0) < 1 THEN
    RAISE EXCEPTION 'auto-heal thresholds must be at least 1 minute, got preparing=% ready=%',
      p_preparing_minutes, p_ready_minutes;
  END IF;
  -- 0x63630001 ("cc" 1): held until the caller's transaction ends.
  IF NOT pg_try_advisory_xact_lock(1667432449) THEN
    RETURN jsonb_build_object('skipped', true, 'reason', 'another maintenance run holds the lock');
  END IF;

  v_heal := public.auto_heal_stuck_orders(p_preparing_minutes, p_ready_minutes);
  PERFORM public.refresh_order_health();
  v_deleted := public.cleanup_old_metrics(p_retention_days);
  v_summary := jsonb_build_object(
    'skipped', false,
    'auto_heal', v_heal,
    'order_health_refreshed', true,
    'metrics_deleted', v_deleted,
    'duration_ms', round(extract(epoch FROM clock_timestamp() - v_started) * 1000));

  INSERT INTO public.runtime_metrics (event_type, event_data)
  VALUES ('maintenance', (v_summary - 'skipped') || jsonb_build_object(
    'status', 'success',
    'runner', coalesce(nullif(current_setting('application_name', true), ''), 'unknown'),
    'preparing_minutes', p_preparing_minutes,
    'ready_minutes', p_ready_minutes));
  RETURN v_summary;
END $$;

-- Whether pg_cron runs the maintenance job here (the exporter's scheduler then stands by).
CREATE OR REPLACE FUNCTION observability.maintenance_scheduled_by_pg_cron() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RETURN false;
  END IF;
  RETURN EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'cc-system-maintenance' AND active);
END $$;

-- Schedule (or reschedule) the job with pg_cron; without pg_cron, say so and do nothing.
-- Safe to call again: pg_cron replaces a job of the same name. Call it by hand after enabling
-- pg_cron on a database that was migrated without it.
CREATE OR REPLACE FUNCTION observability.schedule_maintenance(
  p_schedule text DEFAULT '*/15 * * * *',
  p_command  text DEFAULT 'SELECT public.run_system_maintenance()'
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RETURN 'pg_cron is not installed: the exporter''s scheduler runs maintenance';
  END IF;
  PERFORM cron.schedule('cc-system-maintenance', p_schedule, p_command);
  RETURN format('pg_cron runs %s on %s', p_command, p_schedule);
END $$;

DO $$
BEGIN
  RAISE NOTICE '%', observability.schedule_maintenance();
END $$;

REVOKE ALL ON FUNCTION public.run_system_maintenance(integer, integer, integer) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION observability.maintenance_scheduled_by_pg_cron() FROM PUBLIC;
REVOKE ALL ON FUNCTION observability.schedule_maintenance(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.run_system_maintenance(integer, integer, integer) TO service_role, cc_exporter;
GRANT EXECUTE ON FUNCTION observability.maintenance_scheduled_by_pg_cron() TO service_role, cc_exporter;
GRANT EXECUTE ON FUNCTION observability.schedule_maintenance(text, text) TO service_role;

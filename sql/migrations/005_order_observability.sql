-- Order health: the views the exporter reads, the order event trigger, mv_order_health,
-- auto-heal and maintenance. This is the one file that knows the app's order columns:
-- adapting to a different app schema means editing the views and functions here.

DO $$
BEGIN
  IF to_regclass('public.orders') IS NULL OR to_regclass('public.stores') IS NULL THEN
    RAISE EXCEPTION 'Connect Observability reads the app tables public.orders and public.stores, which do not exist in this database'
      USING HINT = 'Run the migrations against the app''s database; for development, apply sql/app/ first.';
  END IF;
END $$;

CREATE SCHEMA IF NOT EXISTS observability;
COMMENT ON SCHEMA observability IS 'Connect Observability: what the exporter and Grafana read';

-- Order statuses that are not terminal: pending, confirmed, preparing, ready. The view, the
-- partial index predicate and mv_order_health below must list the same ones.
CREATE OR REPLACE VIEW observability.active_orders AS
SELECT o.id          AS order_id,
       s.slug        AS store,
       o.status      AS status,
       o.total       AS total,
       o.created_at  AS created_at,
       o.updated_at  AS status_since
  FROM public.orders o
  JOIN public.stores s ON s.id = o.store_id
 WHERE o.status IN ('pending', 'confirmed', 'preparing', 'ready');
COMMENT ON VIEW observability.active_orders IS
  'Orders in a non-terminal status; status_since is when the order entered its status';

-- The orders collector reads only active orders: this partial index keeps its cost
-- proportional to them, not to the orders table. On a large live table, create it
-- CONCURRENTLY by hand before migrating; the migration then finds it and moves on.
CREATE INDEX IF NOT EXISTS orders_active_status_idx ON public.orders (status, store_id)
  WHERE status IN ('pending', 'confirmed', 'preparing', 'ready');

CREATE OR REPLACE VIEW observability.stores AS
SELECT s.id AS store_id, s.slug AS store, s.name AS name
  FROM public.stores s;

-- Every order status change (and every new order) becomes an order_event row, so order
-- counters are derived exactly from the event log.
CREATE OR REPLACE FUNCTION observability.record_order_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  INSERT INTO public.runtime_metrics (event_type, event_data)
  VALUES ('order_event', jsonb_build_object(
    'event',            CASE WHEN TG_OP = 'INSERT' THEN 'created' ELSE 'status_changed' END,
    'order_id',         NEW.id,
    'store_id',         NEW.store_id,
    'from',             CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status END,
    'to',               NEW.status,
    'total',            NEW.total,
    'order_created_at', NEW.created_at));
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION observability.record_order_event() FROM PUBLIC;

DROP TRIGGER IF EXISTS orders_created_event ON public.orders;
CREATE TRIGGER orders_created_event
  AFTER INSERT ON public.orders
  FOR EACH ROW EXECUTE FUNCTION observability.record_order_event();

DROP TRIGGER IF EXISTS orders_status_event ON public.orders;
CREATE TRIGGER orders_status_event
  AFTER UPDATE OF status ON public.orders
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION observability.record_order_event();

-- Hourly order health per store over the last 30 days, for SQL panels and the
-- get_order_health_summary RPC. Live order state comes from the exporter, not from here.
CREATE MATERIALIZED VIEW IF NOT EXISTS public.mv_order_health AS
SELECT date_trunc('hour', o.created_at)                                         AS hour,
       o.store_id                                                               AS store_id,
       count(*)                                                                 AS total_orders,
       count(*) FILTER (WHERE o.status = 'completed')                           AS completed_orders,
       count(*) FILTER (WHERE o.status = 'cancelled')                           AS cancelled_orders,
       count(*) FILTER (WHERE o.status IN ('pending', 'confirmed', 'preparing', 'ready')) AS active_orders,
       count(*) FILTER (WHERE o.status = 'preparing' AND o.updated_at < now() - interval '30 minutes') AS stuck_preparing,
       count(*) FILTER (WHERE o.status = 'ready' AND o.updated_at < now() - interval '60 minutes')     AS stuck_ready,
       avg(extract(epoch FROM o.updated_at - o.created_at) / 60.0)
         FILTER (WHERE o.status = 'completed')                                  AS avg_completion_minutes,
       avg(o.total)                                                             AS avg_order_value,
       coalesce(sum(o.total) FILTER (WHERE o.status = 'completed'), 0)          AS revenue,
       now()                                                                    AS refreshed_at
  FROM public.orders o
 WHERE o.created_at > now() - interval '30 days'
 GROUP BY 1, 2;

CREATE UNIQUE INDEX IF NOT EXISTS mv_order_health_hour_store_idx ON public.mv_order_health (hour, store_id);
REVOKE ALL ON public.mv_order_health FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.mv_order_health TO cc_grafana, cc_exporter, service_role;

CREATE OR REPLACE FUNCTION public.refresh_order_health() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  REFRESH MATERIALIZED VIEW CONCURRENTLY public.mv_order_health;
END $$;

-- Auto-heal: orders staff forgot to move on. heal_orders moves every order that has been in
-- p_from for longer than p_minutes to p_to; rows a user is updating right now are skipped,
-- not waited for. Each correction is an auto_heal event (and, through the trigger, an
-- order_event). Returns how many orders it moved.
CREATE OR REPLACE FUNCTION observability.heal_orders(p_from text, p_to text, p_minutes integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_healed integer;
BEGIN
  WITH stuck AS (
    SELECT id FROM public.orders
     WHERE status = p_from AND updated_at < now() - make_interval(mins => p_minutes)
     FOR UPDATE SKIP LOCKED
  ), healed AS (
    UPDATE public.orders o SET status = p_to, updated_at = now()
      FROM stuck WHERE o.id = stuck.id
    RETURNING o.id, o.store_id
  ), logged AS (
    INSERT INTO public.runtime_metrics (event_type, event_data)
    SELECT 'auto_heal', jsonb_build_object(
             'action', p_from || '_to_' || p_to,
             'details', jsonb_build_object('order_id', id, 'store_id', store_id, 'threshold_minutes', p_minutes))
      FROM healed
    RETURNING 1
  )
  SELECT count(*) INTO v_healed FROM logged;
  RETURN v_healed;
END $$;
REVOKE ALL ON FUNCTION observability.heal_orders(text, text, integer) FROM PUBLIC;

-- preparing for longer than p_preparing_minutes becomes ready; ready for longer than
-- p_ready_minutes becomes completed (ready first, so a just-promoted order is not completed).
DROP FUNCTION IF EXISTS public.auto_heal_stuck_orders(integer, integer);
CREATE FUNCTION public.auto_heal_stuck_orders(
  p_preparing_minutes integer DEFAULT 45,
  p_ready_minutes     integer DEFAULT 120
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_completed integer;
  v_promoted  integer;
BEGIN
  v_completed := observability.heal_orders('ready', 'completed', p_ready_minutes);
  v_promoted := observability.heal_orders('preparing', 'ready', p_preparing_minutes);
  RETURN jsonb_build_object('preparing_to_ready', v_promoted, 'ready_to_completed', v_completed);
END $$;

-- Delete events older than the retention period; returns how many rows went.
DROP FUNCTION IF EXISTS public.cleanup_old_metrics(integer);
CREATE FUNCTION public.cleanup_old_metrics(p_retention_days integer DEFAULT 30) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_deleted bigint;
BEGIN
  IF p_retention_days IS NULL OR p_retention_days < 1 THEN
    RAISE EXCEPTION 'retention must be at least 1 day, got %', p_retention_days;
  END IF;
  DELETE FROM public.runtime_metrics WHERE created_at < now() - make_interval(days => p_retention_days);
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN v_deleted;
END $$;

-- The 15-minute maintenance job: auto-heal, refresh mv_order_health, prune old events.
-- Alert evaluation moved to Prometheus.
DROP FUNCTION IF EXISTS public.run_system_maintenance();
CREATE FUNCTION public.run_system_maintenance() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_started timestamptz := clock_timestamp();
  v_heal    jsonb;
  v_deleted bigint;
BEGIN
  v_heal := public.auto_heal_stuck_orders();
  PERFORM public.refresh_order_health();
  v_deleted := public.cleanup_old_metrics(30);
  RETURN jsonb_build_object(
    'auto_heal', v_heal,
    'order_health_refreshed', true,
    'metrics_deleted', v_deleted,
    'duration_ms', round(extract(epoch FROM clock_timestamp() - v_started) * 1000));
END $$;

REVOKE ALL ON FUNCTION public.refresh_order_health() FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.auto_heal_stuck_orders(integer, integer) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.cleanup_old_metrics(integer) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.run_system_maintenance() FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.refresh_order_health() TO service_role, cc_exporter;
GRANT EXECUTE ON FUNCTION public.auto_heal_stuck_orders(integer, integer) TO service_role, cc_exporter;
GRANT EXECUTE ON FUNCTION public.cleanup_old_metrics(integer) TO service_role, cc_exporter;
GRANT EXECUTE ON FUNCTION public.run_system_maintenance() TO service_role, cc_exporter;

GRANT USAGE ON SCHEMA observability TO cc_exporter, cc_grafana, service_role;
GRANT SELECT ON observability.active_orders, observability.stores TO cc_exporter, cc_grafana, service_role;

-- The Phase 9 reporting RPCs over runtime_metrics and mv_order_health, kept for existing
-- callers and SQL panels. Callable only by privileged roles: Supabase grants EXECUTE on new
-- functions in public to anon and authenticated by default, so that is revoked explicitly.

DROP FUNCTION IF EXISTS public.get_recent_errors(integer, integer);
CREATE FUNCTION public.get_recent_errors(p_limit integer DEFAULT 50, p_hours integer DEFAULT 24)
RETURNS TABLE (id bigint, created_at timestamptz, session_id text, error_type text, message text, url text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT m.id, m.created_at, m.session_id,
         m.event_data ->> 'error_type', m.event_data ->> 'message', m.event_data ->> 'url'
    FROM public.runtime_metrics m
   WHERE m.event_type = 'error'
     AND m.created_at > now() - make_interval(hours => p_hours)
   ORDER BY m.created_at DESC
   LIMIT least(greatest(p_limit, 1), 1000)
$$;

-- Errors are responses with status >= 500 and network failures (status 0).
DROP FUNCTION IF EXISTS public.get_api_latency_stats(integer);
CREATE FUNCTION public.get_api_latency_stats(p_hours integer DEFAULT 24)
RETURNS TABLE (endpoint text, request_count bigint, error_count bigint,
               avg_ms double precision, p50_ms double precision, p95_ms double precision, p99_ms double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  WITH calls AS (
    SELECT m.event_data ->> 'endpoint' AS endpoint,
           (m.event_data ->> 'latency_ms')::double precision AS latency_ms,
           coalesce((m.event_data ->> 'status')::integer, 0) AS status
      FROM public.runtime_metrics m
     WHERE m.event_type = 'api_latency'
       AND m.created_at > now() - make_interval(hours => p_hours)
       AND jsonb_typeof(m.event_data -> 'latency_ms') = 'number'
  )
  SELECT endpoint,
         count(*),
         count(*) FILTER (WHERE status >= 500 OR status = 0),
         avg(latency_ms),
         percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
         percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms),
         percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms)
    FROM calls
   GROUP BY endpoint
   ORDER BY count(*) DESC
$$;

DROP FUNCTION IF EXISTS public.get_metrics_summary(integer);
CREATE FUNCTION public.get_metrics_summary(p_hours integer DEFAULT 24) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  WITH recent AS (
    SELECT * FROM public.runtime_metrics
     WHERE created_at > now() - make_interval(hours => p_hours)
  )
  SELECT jsonb_build_object(
    'hours', p_hours,
    'events', (SELECT count(*) FROM recent),
    'events_by_type', coalesce((SELECT jsonb_object_agg(event_type, n)
                                  FROM (SELECT event_type, count(*) AS n FROM recent GROUP BY 1) t), '{}'::jsonb),
    'sessions', (SELECT count(DISTINCT session_id) FROM recent),
    'errors', (SELECT count(*) FROM recent WHERE event_type = 'error'),
    'error_sessions', (SELECT count(DISTINCT session_id) FROM recent WHERE event_type = 'error'),
    'page_views', (SELECT count(*) FROM recent WHERE event_type = 'page_view'),
    'avg_api_latency_ms', (SELECT avg((event_data ->> 'latency_ms')::double precision) FROM recent
                            WHERE event_type = 'api_latency' AND jsonb_typeof(event_data -> 'latency_ms') = 'number'))
$$;

DROP FUNCTION IF EXISTS public.get_error_rate_timeseries(integer, integer);
CREATE FUNCTION public.get_error_rate_timeseries(p_hours integer DEFAULT 24, p_bucket_minutes integer DEFAULT 15)
RETURNS TABLE (bucket timestamptz, total_requests bigint, error_requests bigint, error_rate double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT date_bin(make_interval(mins => greatest(p_bucket_minutes, 1)), m.created_at, timestamptz '2000-01-01') AS bucket,
         count(*),
         count(*) FILTER (WHERE coalesce((m.event_data ->> 'status')::integer, 0) >= 500
                             OR coalesce((m.event_data ->> 'status')::integer, 0) = 0),
         (count(*) FILTER (WHERE coalesce((m.event_data ->> 'status')::integer, 0) >= 500
                              OR coalesce((m.event_data ->> 'status')::integer, 0) = 0))::double precision / count(*)
    FROM public.runtime_metrics m
   WHERE m.event_type = 'api_latency'
     AND m.created_at > now() - make_interval(hours => p_hours)
   GROUP BY 1
   ORDER BY 1
$$;

DROP FUNCTION IF EXISTS public.get_order_health_summary(uuid, integer);
CREATE FUNCTION public.get_order_health_summary(p_store_id uuid DEFAULT NULL, p_hours integer DEFAULT 24)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT jsonb_build_object(
    'store_id', p_store_id,
    'hours', p_hours,
    'total_orders', coalesce(sum(total_orders), 0),
    'completed_orders', coalesce(sum(completed_orders), 0),
    'cancelled_orders', coalesce(sum(cancelled_orders), 0),
    'active_orders', coalesce(sum(active_orders), 0),
    'stuck_preparing', coalesce(sum(stuck_preparing), 0),
    'stuck_ready', coalesce(sum(stuck_ready), 0),
    'completion_rate', CASE WHEN sum(total_orders) > 0
                            THEN round(sum(completed_orders)::numeric / sum(total_orders), 4) END,
    'avg_completion_minutes', round((sum(avg_completion_minutes * completed_orders)
                                     / nullif(sum(completed_orders) FILTER (WHERE avg_completion_minutes IS NOT NULL), 0))::numeric, 2),
    'revenue', coalesce(sum(revenue), 0),
    'refreshed_at', max(refreshed_at))
    FROM public.mv_order_health
   WHERE hour > now() - make_interval(hours => p_hours)
     AND (p_store_id IS NULL OR store_id = p_store_id)
$$;

REVOKE ALL ON FUNCTION public.get_recent_errors(integer, integer) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.get_api_latency_stats(integer) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.get_metrics_summary(integer) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.get_error_rate_timeseries(integer, integer) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.get_order_health_summary(uuid, integer) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.get_recent_errors(integer, integer) TO service_role, cc_grafana;
GRANT EXECUTE ON FUNCTION public.get_api_latency_stats(integer) TO service_role, cc_grafana;
GRANT EXECUTE ON FUNCTION public.get_metrics_summary(integer) TO service_role, cc_grafana;
GRANT EXECUTE ON FUNCTION public.get_error_rate_timeseries(integer, integer) TO service_role, cc_grafana;
GRANT EXECUTE ON FUNCTION public.get_order_health_summary(uuid, integer) TO service_role, cc_grafana;

-- Deployments that were verified. A deployment is 'success' only when its smoke tests passed (or
-- none were reported): a failed smoke test can never be recorded as success, by the ops CLI or
-- by anyone calling the function directly. The rollback target is the newest deployment of the
-- environment that passed its smoke test and served (status success, smoke_test_passed true).

DO $$
BEGIN
  -- NOT VALID: rows written before this migration stay as they are; every new write is checked.
  ALTER TABLE public.deployment_log ADD CONSTRAINT deployment_log_success_verified
    CHECK (status <> 'success' OR smoke_test_passed IS DISTINCT FROM false) NOT VALID;
EXCEPTION WHEN duplicate_object THEN
  NULL;
END $$;

CREATE OR REPLACE FUNCTION public.update_deployment_status(
  p_deployment_id      text,
  p_status             text,
  p_smoke_test_passed  boolean DEFAULT NULL,
  p_smoke_test_results jsonb DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_environment text;
  v_smoke       boolean;
BEGIN
  SELECT coalesce(p_smoke_test_passed, smoke_test_passed) INTO v_smoke
    FROM public.deployment_log WHERE deployment_id = p_deployment_id;
  IF p_status = 'success' AND v_smoke IS FALSE THEN
    RAISE EXCEPTION 'deployment % failed its smoke tests: it cannot be recorded as success', p_deployment_id
      USING ERRCODE = 'check_violation';
  END IF;

  UPDATE public.deployment_log
     SET status = p_status,
         smoke_test_passed = coalesce(p_smoke_test_passed, smoke_test_passed),
         smoke_test_results = coalesce(p_smoke_test_results, smoke_test_results),
         finished_at = CASE WHEN p_status = 'deploying' THEN NULL ELSE now() END
   WHERE deployment_id = p_deployment_id
  RETURNING environment INTO v_environment;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no deployment with deployment_id %', p_deployment_id USING ERRCODE = 'no_data_found';
  END IF;

  INSERT INTO public.runtime_metrics (event_type, event_data)
  VALUES ('deployment', jsonb_build_object(
    'action', 'status', 'deployment_id', p_deployment_id, 'status', p_status,
    'environment', v_environment));
END $$;

CREATE OR REPLACE FUNCTION public.get_last_successful_deployment(
  p_environment           text DEFAULT 'production',
  p_exclude_deployment_id text DEFAULT NULL
) RETURNS SETOF public.deployment_log
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT *
    FROM public.deployment_log
   WHERE environment = p_environment
     AND status = 'success'
     AND smoke_test_passed IS TRUE
     AND (p_exclude_deployment_id IS NULL OR deployment_id <> p_exclude_deployment_id)
   ORDER BY deployed_at DESC, id DESC
   LIMIT 1
$$;

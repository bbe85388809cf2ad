-- deployment_log: one row per deploy, written by the ops CLI from the deploy workflow.

CREATE TABLE IF NOT EXISTS public.deployment_log (
  id                  bigserial PRIMARY KEY,
  deployment_id       text NOT NULL UNIQUE,
  environment         text NOT NULL DEFAULT 'production',
  version             text,
  commit_sha          text,
  deployed_at         timestamptz NOT NULL DEFAULT now(),
  status              text NOT NULL DEFAULT 'deploying',
  smoke_test_passed   boolean,
  rollback_target_id  bigint REFERENCES public.deployment_log (id)
);

-- Columns added after Phase 9; harmless on a table that already has them.
ALTER TABLE public.deployment_log ADD COLUMN IF NOT EXISTS finished_at timestamptz;
ALTER TABLE public.deployment_log ADD COLUMN IF NOT EXISTS smoke_test_results jsonb;
ALTER TABLE public.deployment_log ADD COLUMN IF NOT EXISTS deployed_by text;
ALTER TABLE public.deployment_log ADD COLUMN IF NOT EXISTS metadata jsonb NOT NULL DEFAULT '{}'::jsonb;

DO $$
BEGIN
  ALTER TABLE public.deployment_log ADD CONSTRAINT deployment_log_status_check
    CHECK (status IN ('deploying', 'success', 'failed', 'rolled_back'));
EXCEPTION WHEN duplicate_object THEN
  NULL;
END $$;

CREATE INDEX IF NOT EXISTS deployment_log_env_deployed_idx
  ON public.deployment_log (environment, deployed_at DESC, id DESC);

ALTER TABLE public.deployment_log ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS deployment_log_read ON public.deployment_log;
CREATE POLICY deployment_log_read ON public.deployment_log
  FOR SELECT TO cc_exporter, cc_grafana USING (true);
DROP POLICY IF EXISTS deployment_log_service_all ON public.deployment_log;
CREATE POLICY deployment_log_service_all ON public.deployment_log
  FOR ALL TO service_role USING (true) WITH CHECK (true);

REVOKE ALL ON public.deployment_log FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.deployment_log TO cc_exporter, cc_grafana;
GRANT ALL ON public.deployment_log TO service_role;
GRANT USAGE ON SEQUENCE public.deployment_log_id_seq TO service_role;

-- Record a new deployment (idempotent for the same deployment_id, so a retried CI step is safe).
DROP FUNCTION IF EXISTS public.log_deployment(text, text, text, text, text, jsonb);
CREATE FUNCTION public.log_deployment(
  p_deployment_id text,
  p_environment   text DEFAULT 'production',
  p_version       text DEFAULT NULL,
  p_commit_sha    text DEFAULT NULL,
  p_deployed_by   text DEFAULT NULL,
  p_metadata      jsonb DEFAULT '{}'::jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_id bigint;
BEGIN
  INSERT INTO public.deployment_log (deployment_id, environment, version, commit_sha, deployed_by, metadata)
  VALUES (p_deployment_id, p_environment, p_version, p_commit_sha, p_deployed_by, coalesce(p_metadata, '{}'::jsonb))
  ON CONFLICT (deployment_id) DO UPDATE
    SET environment = EXCLUDED.environment,
        version = EXCLUDED.version,
        commit_sha = EXCLUDED.commit_sha,
        deployed_by = EXCLUDED.deployed_by,
        metadata = EXCLUDED.metadata
  RETURNING id INTO v_id;

  INSERT INTO public.runtime_metrics (event_type, event_data)
  VALUES ('deployment', jsonb_build_object(
    'action', 'started', 'deployment_id', p_deployment_id, 'status', 'deploying',
    'environment', p_environment));
  RETURN v_id;
END $$;

-- Set a deployment's outcome (and its smoke test result); unknown ids are an error.
DROP FUNCTION IF EXISTS public.update_deployment_status(text, text, boolean, jsonb);
CREATE FUNCTION public.update_deployment_status(
  p_deployment_id      text,
  p_status             text,
  p_smoke_test_passed  boolean DEFAULT NULL,
  p_smoke_test_results jsonb DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_environment text;
BEGIN
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

-- The rollback target: the newest successful deployment of an environment, optionally
-- excluding the one being rolled back.
DROP FUNCTION IF EXISTS public.get_last_successful_deployment(text, text);
CREATE FUNCTION public.get_last_successful_deployment(
  p_environment           text DEFAULT 'production',
  p_exclude_deployment_id text DEFAULT NULL
) RETURNS SETOF public.deployment_log
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT *
    FROM public.deployment_log
   WHERE environment = p_environment
     AND status = 'success'
     AND (p_exclude_deployment_id IS NULL OR deployment_id <> p_exclude_deployment_id)
   ORDER BY deployed_at DESC, id DESC
   LIMIT 1
$$;

-- Mark a failed deployment as rolled back to a target deployment.
DROP FUNCTION IF EXISTS public.log_rollback(text, text);
CREATE FUNCTION public.log_rollback(
  p_failed_deployment_id text,
  p_target_deployment_id text
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_target_id   bigint;
  v_environment text;
BEGIN
  SELECT id INTO v_target_id FROM public.deployment_log WHERE deployment_id = p_target_deployment_id;
  IF v_target_id IS NULL THEN
    RAISE EXCEPTION 'no deployment with deployment_id %', p_target_deployment_id USING ERRCODE = 'no_data_found';
  END IF;

  UPDATE public.deployment_log
     SET status = 'rolled_back', rollback_target_id = v_target_id, finished_at = now()
   WHERE deployment_id = p_failed_deployment_id
  RETURNING environment INTO v_environment;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no deployment with deployment_id %', p_failed_deployment_id USING ERRCODE = 'no_data_found';
  END IF;

  INSERT INTO public.runtime_metrics (event_type, event_data)
  VALUES ('deployment', jsonb_build_object(
    'action', 'rollback', 'deployment_id', p_failed_deployment_id, 'status', 'rolled_back',
    'environment', v_environment, 'target_deployment_id', p_target_deployment_id));
END $$;

REVOKE ALL ON FUNCTION public.log_deployment(text, text, text, text, text, jsonb) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.update_deployment_status(text, text, boolean, jsonb) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.get_last_successful_deployment(text, text) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.log_rollback(text, text) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.log_deployment(text, text, text, text, text, jsonb) TO service_role;
GRANT EXECUTE ON FUNCTION public.update_deployment_status(text, text, boolean, jsonb) TO service_role;
GRANT EXECUTE ON FUNCTION public.get_last_successful_deployment(text, text) TO service_role;
GRANT EXECUTE ON FUNCTION public.log_rollback(text, text) TO service_role;

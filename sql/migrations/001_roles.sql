-- Roles. On Supabase anon, authenticated and service_role already exist; elsewhere they are
-- created here so that the same grants apply everywhere.
--   cc_exporter  the exporter's least-privilege login (set its password yourself:
--                ALTER ROLE cc_exporter PASSWORD '...')
--   cc_grafana   read-only login for Grafana's Postgres datasource
-- Creating a role that a concurrent run has just created raises duplicate_object or
-- unique_violation; both mean "it exists", which is all this migration wants.
DO $$
DECLARE
  spec text[];
BEGIN
  FOREACH spec SLICE 1 IN ARRAY ARRAY[
    ARRAY['anon', 'NOLOGIN'],
    ARRAY['authenticated', 'NOLOGIN'],
    ARRAY['service_role', 'NOLOGIN'],
    ARRAY['cc_exporter', 'LOGIN'],
    ARRAY['cc_grafana', 'LOGIN']
  ] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = spec[1]) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', spec[1], spec[2]);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
  END LOOP;
END $$;

-- Grafana only ever reads.
ALTER ROLE cc_grafana SET default_transaction_read_only = on;
-- Bound anything the exporter's role runs, even when a client forgets to.
ALTER ROLE cc_exporter SET statement_timeout = '10s';
ALTER ROLE cc_exporter SET lock_timeout = '2s';
ALTER ROLE cc_exporter SET idle_in_transaction_session_timeout = '30s';

-- pg_stat_activity shows other sessions' state only to members of pg_read_all_stats.
-- Supabase's postgres role may not be allowed to grant it; the exporter then sees its own
-- sessions' states and counts the rest as "unknown".
DO $$
BEGIN
  GRANT pg_read_all_stats TO cc_exporter;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not grant pg_read_all_stats to cc_exporter; connection states of other roles will read as unknown';
END $$;

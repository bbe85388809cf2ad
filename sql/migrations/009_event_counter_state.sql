-- The event collector's checkpoint: a settled cursor in runtime_metrics and every counter and
-- histogram fed from the rows before it (the counts are a function of the cursor: the same rows
-- in the same (tx, id) order give the same counts, label caps included). The exporter commits it
-- every EVENTS_CHECKPOINT_INTERVAL; a new process starts from it and reads every row settled since
-- before it serves any event series, so:
--   - a restart (SIGTERM or SIGKILL) goes on with the counters at least where any exporter had
--     served them: no row is lost, none is counted twice, and no counter goes down;
--   - every exporter on the database shares the row (replicas, rolling deploys, failover): the
--     furthest checkpoint wins.
-- cluster is the database cluster's system identifier: an xid8 cursor means nothing in another
-- cluster (a restore elsewhere, pg_upgrade), so the exporter checks it before trusting tx.

CREATE TABLE IF NOT EXISTS observability.event_counter_state (
  name        text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 64),
  cluster     text NOT NULL,
  tx          xid8 NOT NULL,
  id          bigint NOT NULL,
  -- json, not jsonb: it is written whole each time and read only by the exporter (jsonb costs a
  -- parse on every write, about three times the write of the text)
  counts      json NOT NULL,
  version     bigint NOT NULL DEFAULT 1,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL
);
COMMENT ON TABLE observability.event_counter_state IS
  'The event collector''s settled cursor in runtime_metrics and the counts fed from the rows before it, committed with each count';

REVOKE ALL ON observability.event_counter_state FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON observability.event_counter_state TO cc_exporter;
GRANT SELECT ON observability.event_counter_state TO cc_grafana;
GRANT ALL ON observability.event_counter_state TO service_role;

-- Rows from another cluster: a dump restored here keeps its tx values, and those may lie ahead
-- of this cluster's transaction counter. Such a row is not new (this cluster never ran its
-- transaction), yet the cursor would count it on the day the counter passes it, and until then
-- it waits behind the cursor for ever. In one statement, a visible row whose tx is not below the
-- snapshot's xmax cannot come from this cluster: it is re-stamped tx 0 (before every cursor, so
-- it stays history) and its event type returned, for the exporter to count as restored.
CREATE OR REPLACE FUNCTION observability.quarantine_foreign_events()
RETURNS TABLE (event_type text, n bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
BEGIN
  -- The newest tx is the end of the (tx, id) index: nearly always below xmax, and then there is
  -- nothing to do (the UPDATE's own condition cannot use the index: its bound is unknown when
  -- planned, so it would read the whole table every scrape).
  IF coalesce((SELECT max(m.tx) FROM public.runtime_metrics m) >= pg_snapshot_xmax(pg_current_snapshot()), false) THEN
    -- xmax again, in the statement that moves the rows: a row committed since the check is this
    -- cluster's own and below the statement's xmax.
    RETURN QUERY
      WITH moved AS (
        UPDATE public.runtime_metrics m
           SET tx = '0'::xid8
         WHERE m.tx >= pg_snapshot_xmax(pg_current_snapshot())
        RETURNING m.event_type
      )
      SELECT moved.event_type, count(*)::bigint FROM moved GROUP BY moved.event_type;
  END IF;
END $$;
REVOKE ALL ON FUNCTION observability.quarantine_foreign_events() FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION observability.quarantine_foreign_events() TO cc_exporter, service_role;

-- The cluster's identity, for the exporter's check (pg_control_system() may be denied to it).
CREATE OR REPLACE FUNCTION observability.cluster_identity() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT system_identifier::text FROM pg_control_system()
$$;
REVOKE ALL ON FUNCTION observability.cluster_identity() FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION observability.cluster_identity() TO cc_exporter, cc_grafana, service_role;

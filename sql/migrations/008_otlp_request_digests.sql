-- OTLP replays: a client that sent a request and never got the answer (the connection was cut
-- after the rows were committed, a 503 after a commit whose acknowledgement was lost) sends the
-- same bytes again. The receiver stores a request's rows only when it records the request's
-- SHA-256 here in the same statement, so a replay within the window stores nothing and is
-- answered 200. The receiver deletes digests older than its window (OTLP_DEDUPE_WINDOW_MINUTES)
-- as it goes; nothing else reads this table, and backups leave it out.

CREATE TABLE IF NOT EXISTS observability.otlp_request_digests (
  digest       bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
  received_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE observability.otlp_request_digests IS
  'SHA-256 of each OTLP request body stored recently, so that a client''s replay is not stored twice';

CREATE INDEX IF NOT EXISTS otlp_request_digests_received_at_idx
  ON observability.otlp_request_digests (received_at);

REVOKE ALL ON observability.otlp_request_digests FROM PUBLIC, anon, authenticated, cc_grafana;
GRANT SELECT, INSERT, DELETE ON observability.otlp_request_digests TO cc_exporter;
GRANT ALL ON observability.otlp_request_digests TO service_role;

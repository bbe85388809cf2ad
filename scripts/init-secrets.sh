#!/bin/sh
# Creates the secret files docker-compose.yml reads from ./secrets/ (gitignored): random
# passwords and tokens for everything local, placeholders for the external services (Resend,
# Slack). An existing file is never overwritten, so it is safe to run again after adding a
# secret; delete a file to regenerate it (and see docs/stack.md: a database password also lives in
# the Postgres volume).
#
#   scripts/init-secrets.sh            # in the repository root
#   SECRETS_DIR=/somewhere scripts/init-secrets.sh
#
# The folder is private (0700) to this machine's other users; the files in it are 0644 because
# compose mounts them into containers that run as other users (Grafana 472, Alertmanager nobody,
# the exporter node, Postgres 999), who must be able to read them. Values are written without a
# trailing newline (Alertmanager sends a password file as it is).
set -eu

cd "$(dirname "$0")/.."
dir=${SECRETS_DIR:-secrets}

# The database name, as docker-compose.yml will see it (.env, else its default).
db=${POSTGRES_DB:-}
if [ -z "$db" ] && [ -f .env ]; then
  db=$(sed -n 's/^POSTGRES_DB=//p' .env | tail -n 1 | tr -d "\"' ")
fi
db=${db:-connect}

random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

umask 022
mkdir -p "$dir"
chmod 700 "$dir"

created=''
put() { # name value
  if [ -e "$dir/$1" ]; then return 0; fi
  printf '%s' "$2" > "$dir/$1"
  chmod 644 "$dir/$1"
  created="$created $1"
}
get() { cat "$dir/$1"; }

# Hex values: safe inside a connection string without escaping.
put postgres-password "$(random)"
put cc-exporter-db-password "$(random)"
put cc-grafana-db-password "$(random)"
put grafana-admin-password "$(random)"
put hooks-token "$(random)"
put ack-token "$(random)"
# The edge functions' bearer token for the OTLP receiver (set it as their OTLP_SERVER_TOKEN secret).
put otlp-server-token "$(random)"
# The role that owns the schema, for `migrate` and `db-roles`; the exporter's own login.
put migrate-database-url "postgresql://postgres:$(get postgres-password)@postgres:5432/$db?sslmode=disable"
put exporter-database-url "postgresql://cc_exporter:$(get cc-exporter-db-password)@postgres:5432/$db?sslmode=disable"
# External services: replace these for real delivery. Locally, email goes to Mailpit (which
# asks for no password) and Slack to a closed local port (a logged failure, nothing leaves).
put smtp-password 'replace-with-a-resend-api-key'
put slack-webhook-url 'http://127.0.0.1:9/slack-webhook-not-configured'
# Read only when .env sets TWILIO_AUTH_TOKEN_FILE (the SMS bridge is off without it).
put twilio-auth-token 'replace-with-the-twilio-auth-token'
# Read only when .env sets HEARTBEAT_URL_FILE: the dead man's switch the Watchdog pings.
put heartbeat-url 'https://hc-ping.com/replace-with-your-check-uuid'

if [ -n "$created" ]; then
  echo "created in $dir/:$created"
else
  echo "$dir/ already has every secret; nothing changed"
fi
echo "Grafana: user admin, password in $dir/grafana-admin-password"

#!/bin/sh
# Alertmanager's start in docker-compose.yml. alertmanager.yml is the one configuration (its
# routes are tested by amtool); this renders a copy with the email settings of the environment
# (local: Mailpit without TLS; production: Resend's relay, as the file says) and runs
# Alertmanager on it. Alertmanager itself reads no environment variables.
#   SMTP_SMARTHOST, SMTP_REQUIRE_TLS, EMAIL_FROM, EMAIL_TO   (docker-compose.yml passes them from .env)
set -eu

src=${CONFIG_DIR:-/etc/alertmanager/config}
out=${RENDER_DIR:-/run/alertmanager}

for name in SMTP_SMARTHOST SMTP_REQUIRE_TLS EMAIL_FROM EMAIL_TO; do
  eval "value=\${$name:-}"
  case $value in
    '') echo "compose-entrypoint: $name is empty" >&2; exit 2 ;;
    *[\|\'\\\&]*) echo "compose-entrypoint: $name must not contain | ' \\ or &" >&2; exit 2 ;;
  esac
done
case $SMTP_REQUIRE_TLS in
  true | false) ;;
  *) echo "compose-entrypoint: SMTP_REQUIRE_TLS must be true or false" >&2; exit 2 ;;
esac

mkdir -p "$out"
rm -rf "$out/templates"
cp -R "$src/templates" "$out/templates"
sed \
  -e "s|^  smtp_smarthost: .*|  smtp_smarthost: '$SMTP_SMARTHOST'|" \
  -e "s|^  smtp_require_tls: .*|  smtp_require_tls: $SMTP_REQUIRE_TLS|" \
  -e "s|^  smtp_from: .*|  smtp_from: '$EMAIL_FROM'|" \
  -e "s|^\( *\)to: oncall@example.com\$|\1to: '$EMAIL_TO'|" \
  "$src/alertmanager.yml" > "$out/alertmanager.yml"

# Each setting must have been replaced: a changed alertmanager.yml fails here, not silently.
for line in "smtp_smarthost: '$SMTP_SMARTHOST'" "smtp_require_tls: $SMTP_REQUIRE_TLS" \
  "smtp_from: '$EMAIL_FROM'" "to: '$EMAIL_TO'"; do
  if ! grep -qF "$line" "$out/alertmanager.yml"; then
    echo "compose-entrypoint: could not set \"$line\" in alertmanager.yml" >&2
    exit 2
  fi
done
amtool check-config "$out/alertmanager.yml" >/dev/null

exec alertmanager --config.file="$out/alertmanager.yml" "$@"

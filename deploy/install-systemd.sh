#!/usr/bin/env bash
# Installs MetalSniper as a systemd service. Run from anywhere in the repository, as root:
#   sudo deploy/install-systemd.sh
# - publishes the host into /opt/metalsniper/bin, owned by root and read-only to the service (0755 directories, 0644 files);
# - copies appsettings.json to /opt/metalsniper (only when none is there; root:root 0644: the service reads it, cannot change it);
# - creates the service user and its data directory /opt/metalsniper/var (the only place the unit lets the service write);
# - creates the secrets file /etc/metalsniper/env (root:metalsniper 0640) with the keys to fill, when there is none;
# - creates the chain key /etc/metalsniper/chain.key (HMAC-SHA256 key of the journal and the halts store; 32 random bytes from
#   /dev/urandom, metalsniper:metalsniper 0400, in root's directory) when there is none — never overwriting one; the unit
#   points the service at it (Persistence:ChainKeyFile);
# - installs deploy/metalsniper.service and deploy/metalsniper-alert@.service (OnFailure= alert) and runs preflight as the
#   service user (an unreachable broker is reported, not fatal: the service waits for it);
# - enables and starts the service (without waiting for READY, which waits for the broker) only when every required
#   secret is filled in; otherwise says what to fill and how to start, and exits 2.
# `deploy/install-systemd.sh --check-secrets FILE` only checks a secrets file (exit 0 complete, 2 not).
set -euo pipefail

REQUIRED_SECRETS=(TELEGRAM_BOT_TOKEN OPERATOR_API_TOKEN)

# Prints the required keys that FILE lacks or leaves empty (one per line); nothing when all are set.
missing_secrets() {
  local file=$1 key
  for key in "${REQUIRED_SECRETS[@]}"; do
    if [ ! -r "$file" ] || ! grep -Eq "^[[:space:]]*(export[[:space:]]+)?${key}=[\"']?[^[:space:]\"'#]" "$file"; then
      echo "$key"
    fi
  done
}

if [ "${1:-}" = "--check-secrets" ]; then
  missing=$(missing_secrets "${2:?usage: $0 --check-secrets FILE}")
  if [ -n "$missing" ]; then
    echo "missing or empty in $2: $(echo "$missing" | tr '\n' ' ')"
    exit 2
  fi
  echo "all required secrets are set in $2"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "error: run as root (sudo $0)" >&2
  exit 1
fi

cd "$(dirname "$0")/.."
PREFIX=/opt/metalsniper
SECRETS=/etc/metalsniper/env
CHAIN_KEY=/etc/metalsniper/chain.key
UNITS=/etc/systemd/system

id metalsniper >/dev/null 2>&1 || useradd --system --home-dir "$PREFIX" --no-create-home --shell /usr/sbin/nologin metalsniper

# Binaries and configuration: root's, read-only to the service.
install -d -o root -g root -m 0755 "$PREFIX"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dotnet publish MetalSniper.Host -c Release -o "$stage"
rm -rf "${PREFIX:?}/bin.old"
[ -d "$PREFIX/bin" ] && mv "$PREFIX/bin" "$PREFIX/bin.old"
install -d -o root -g root -m 0755 "$PREFIX/bin"
(cd "$stage" && find . -mindepth 1 -type d -print0 | xargs -0 -r -I{} install -d -o root -g root -m 0755 "$PREFIX/bin/{}")
(cd "$stage" && find . -type f -print0 | xargs -0 -r -I{} install -o root -g root -m 0644 "{}" "$PREFIX/bin/{}")
rm -rf "${PREFIX:?}/bin.old"
[ -f "$PREFIX/appsettings.json" ] || install -o root -g root -m 0644 appsettings.json "$PREFIX/appsettings.json"
chown root:root "$PREFIX/appsettings.json"
chmod 0644 "$PREFIX/appsettings.json"

# The data directory: the service's own (database, journal, kill file, logs).
install -d -o metalsniper -g metalsniper -m 0750 "$PREFIX/var" "$PREFIX/var/log"

# Secrets: readable by the service's group, writable by root only.
install -d -o root -g metalsniper -m 0750 /etc/metalsniper
if [ ! -f "$SECRETS" ]; then
  install -o root -g metalsniper -m 0640 /dev/null "$SECRETS"
  cat >"$SECRETS" <<'TEMPLATE'
# MetalSniper secrets (root:metalsniper 0640; read by systemd's EnvironmentFile=). Plain KEY=value lines, no quotes.
# The Telegram bot token from @BotFather (alerts and commands; Telegram:Enabled and Telegram:ChatId in appsettings.json):
TELEGRAM_BOT_TOKEN=
# The bearer token of the operator window's POST /api/kill and /api/resume (any long random string, e.g. openssl rand -hex 32):
OPERATOR_API_TOKEN=
# Live trading only (Execution:Mode Live): METALSNIPER_LIVE_TRADING_CONFIRMED=...
TEMPLATE
fi
chown root:metalsniper "$SECRETS"
chmod 0640 "$SECRETS"

# The chain key: outside the data directory (whoever can write the database must not be able to re-key its chains). Read by the
# service itself, so owned by its user, owner-read-only (the host refuses a key file its group or others can access); the
# directory is root's, so the service cannot replace it. Created once: never overwritten (rotation: README, "Chain keys").
if [ ! -e "$CHAIN_KEY" ]; then
  if systemctl is-active --quiet metalsniper; then
    # Entries written from now on must be keyed (keyed-since): the running old version would write plain ones.
    echo "stopping the running service before its chain key is created (it starts again below)"
    systemctl stop metalsniper
  fi
  (
    umask 077
    set -o noclobber
    {
      echo "# MetalSniper chain keyring: HMAC-SHA256 key(s) of the decision journal and the halts store. Never copy it next to the database."
      echo "# '<key id> <key, hex>' a line; the last key signs new entries, earlier keys verify older ones. Plain entries after keyed-since fail."
      echo "keyed-since $(date -u +%Y-%m-%dT%H:%M:%SZ)"
      echo "k1 $(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
    } >"$CHAIN_KEY"
  )
  echo "created the chain key $CHAIN_KEY"
fi
chown metalsniper:metalsniper "$CHAIN_KEY"
chmod 0400 "$CHAIN_KEY"

install -o root -g root -m 0644 deploy/metalsniper.service "$UNITS/metalsniper.service"
install -o root -g root -m 0644 deploy/metalsniper-alert@.service "$UNITS/metalsniper-alert@.service"
systemctl daemon-reload

echo "preflight as the service user:"
set +e
runuser -u metalsniper -- env METALSNIPER_Persistence__ChainKeyFile="$CHAIN_KEY" bash -c "cd $PREFIX && /usr/bin/dotnet $PREFIX/bin/metalsniper.dll preflight"
code=$?
set -e
case $code in
  0) ;;
  69) echo "note: the broker is not reachable now; the service will wait for it (not ready, YELLOW then RED alerts) and connect when it comes up" ;;
  *) echo "error: preflight failed with exit $code (see above); fix it, then: systemctl enable --now --no-block metalsniper" >&2; exit "$code" ;;
esac

missing=$(missing_secrets "$SECRETS")
if [ -n "$missing" ]; then
  echo
  echo "NOT started: $SECRETS lacks: $(echo "$missing" | tr '\n' ' ')"
  echo "Fill in (as root):  sudoedit $SECRETS"
  echo "Then start it:      systemctl enable --now --no-block metalsniper && systemctl status metalsniper"
  exit 2
fi

systemctl enable metalsniper
# restart: a running service takes the new binaries (a clean SIGTERM drain first). --no-block: the start waits for READY=1,
# which waits for the broker's first reconciliation.
systemctl restart --no-block metalsniper
sleep 2
systemctl --no-pager status metalsniper | head -n 8 || true

#!/usr/bin/env bash
# Installs MetalSniper as a systemd service: publishes the host into /opt/metalsniper/bin, copies the
# configuration (only when none is there yet), creates the service user and the secrets file, installs the unit,
# runs preflight as the service user and starts the service. Run from the repository root as root.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=/opt/metalsniper

id metalsniper >/dev/null 2>&1 || useradd --system --home-dir "$PREFIX" --shell /usr/sbin/nologin metalsniper
install -d -o metalsniper -g metalsniper "$PREFIX" "$PREFIX/var" "$PREFIX/var/log"
dotnet publish MetalSniper.Host -c Release -o "$PREFIX/bin"
[ -f "$PREFIX/appsettings.json" ] || install -o metalsniper -g metalsniper -m 0640 appsettings.json "$PREFIX/appsettings.json"
install -d -m 0750 /etc/metalsniper
[ -f /etc/metalsniper/env ] || install -m 0600 /dev/null /etc/metalsniper/env
install -m 0644 deploy/metalsniper.service /etc/systemd/system/metalsniper.service
systemctl daemon-reload
echo "preflight as the service user:"
runuser -u metalsniper -- bash -c "cd $PREFIX && /usr/bin/dotnet $PREFIX/bin/metalsniper.dll preflight"
systemctl enable --now metalsniper
systemctl --no-pager status metalsniper | head -n 5

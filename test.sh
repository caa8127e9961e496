#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this). Installs the Debian packages the tests need when they are
# missing — Chromium for the dashboard's headless end-to-end test, Node.js and npm for the conformance test that drives
# the independent TypeScript client @stoqey/ib against our fake TWS, python3-statsmodels for the pair statistics'
# cross-check, libxgboost0 for the judges' XGBoost binding, systemd for systemd-analyze on the shipped units, faketime for the IB soak outside metals hours — then runs every
# test of the solution.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is required on PATH" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
UPDATED=""
install() {
  if [ -z "$UPDATED" ]; then
    $SUDO apt-get update -qq
    UPDATED=1
  fi
  # One package set at a time, so a conflict in one (e.g. npm beside a Node.js that brings its own) names itself.
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; then
    echo "error: apt-get could not install: $*" >&2
    exit 1
  fi
}
[ -x /usr/bin/chromium ] || install chromium
command -v node >/dev/null 2>&1 || install nodejs
command -v npm >/dev/null 2>&1 || install npm
/usr/bin/python3 -c "import statsmodels" >/dev/null 2>&1 || install python3-statsmodels  # Debian's python3 (a pyenv python3 on PATH would not see the package): the Pairs ADF/coint cross-check
compgen -G '/usr/lib/*/libxgboost.so*' >/dev/null || install libxgboost0  # XGBoost 1.7.4's C library: the judges' P/Invoke binding
[ -x /usr/bin/systemd-analyze ] || install systemd  # systemd-analyze verify / security --offline on the shipped units (SystemdUnitTests)
compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null || install faketime  # libfaketime: the IB soak moves the service's wall clock into a metals session when the market is closed

dotnet test MetalSniper.sln -c Release "$@"

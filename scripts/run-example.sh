#!/usr/bin/env bash
# Run supervisord in the foreground with examples/supervisord.conf.
# Installs the package into .venv on first use.  Ctrl-C stops it.
# Extra arguments go to supervisord: bash scripts/run-example.sh -e debug
set -euo pipefail
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

ensure_system_packages
ensure_project

# The example keeps its socket, pid file and logs here; the daemon does not
# create missing directories.
mkdir -p /tmp/supervisor-ng-example

exec .venv/bin/supervisord -n -c examples/supervisord.conf "$@"

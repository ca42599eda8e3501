#!/usr/bin/env bash
# Install what the tests need (first run only) and run the whole suite.
# Extra arguments go to pytest: bash scripts/test.sh tests/test_config.py -x
set -euo pipefail
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

ensure_system_packages "${TEST_SYSTEM_PACKAGES[@]}"
ensure_project test
ensure_stock_supervisor
ensure_listener_tools
ensure_npm_clients

exec .venv/bin/python -m pytest -n auto -q "$@"

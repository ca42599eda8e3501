# shellcheck shell=bash
# Set-up shared by scripts/test.sh, scripts/run-example.sh and .ci/run.
#
# Source it, then call the ensure_* functions you need.  Each one checks first
# and only does work when something is missing or out of date, so a second run
# costs well under a second and touches neither apt nor pip.
#
# Sourcing it moves to the repository root and sets REPO_ROOT.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# The interpreter the virtualenvs are made from; override with PYTHON=python3.12.
PYTHON="${PYTHON:-python3}"
STOCK_SUPERVISOR_VERSION=4.3.0
export PIP_DISABLE_PIP_VERSION_CHECK=1

# systemd-python is published as source only, so pip compiles it: that takes a
# C compiler, pkg-config, the libsystemd headers and the Python headers.
# python3-venv is what lets Debian's python3 create a virtualenv with pip in it.
SYSTEM_PACKAGES=(gcc pkg-config libsystemd-dev python3-dev python3-venv)

# What `make deb` builds with (packaging/deb/debian/control's Build-Depends,
# with dpkg-buildpackage and fakeroot) and what `make rpm` needs on Debian.
DEB_BUILD_PACKAGES=(debhelper dh-python pybuild-plugin-pyproject python3-all
    python3-setuptools dpkg-dev fakeroot)
RPM_BUILD_PACKAGES=(rpm)

# What the tests need on top: Debian's chromium for the web page tests
# (driven by Playwright, no browser download); the build packages and rpmlint
# to build and check the packages; debootstrap and systemd-container to boot
# the .deb under a real systemd in systemd-nspawn; prometheus for promtool,
# which checks and unit-tests the alerting rules in monitoring/.
TEST_SYSTEM_PACKAGES=(chromium debootstrap systemd-container "${DEB_BUILD_PACKAGES[@]}"
    "${RPM_BUILD_PACKAGES[@]}" rpmlint prometheus)

bootstrap_log() {
    echo "bootstrap: $*" >&2
}

_deb_installed() {
    # dpkg -s also succeeds for removed packages whose config files remain.
    local status
    status="$(dpkg -s "$1" 2>/dev/null | sed -n 's/^Status: //p')"
    [ "$status" = "install ok installed" ]
}

# ensure_system_packages [EXTRA...]: SYSTEM_PACKAGES and any extra ones.
ensure_system_packages() {
    ensure_debian_packages "${SYSTEM_PACKAGES[@]}" "$@"
}

# ensure_debian_packages PKG...: exactly these (`make deb` uses it for
# DEB_BUILD_PACKAGES).
ensure_debian_packages() {
    local wanted=("$@")
    if ! command -v dpkg >/dev/null 2>&1; then
        bootstrap_log "not a Debian system: make sure the equivalents of ${wanted[*]} are installed"
        return 0
    fi
    local missing=() pkg
    for pkg in "${wanted[@]}"; do
        _deb_installed "$pkg" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0

    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            bootstrap_log "missing ${missing[*]}; run as root or install them first"
            return 1
        fi
        as_root=(sudo)
    fi
    bootstrap_log "installing ${missing[*]}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ensure_venv DIR: a working virtualenv at DIR.  A directory left half-made by
# an earlier failure (say, before python3-venv was installed) is rebuilt.
ensure_venv() {
    local dir="$1"
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c 'import pip' >/dev/null 2>&1; then
        return 0
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
        bootstrap_log "$PYTHON is missing or older than 3.9"
        return 1
    fi
    bootstrap_log "creating $dir with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv --clear "$dir"
}

_project_fingerprint() {
    # What an editable install depends on: dependencies, extras, entry points.
    local f
    for f in pyproject.toml setup.cfg setup.py; do
        if [ -f "$f" ]; then cat "$f"; fi
    done | sha256sum | cut -d' ' -f1
}

# ensure_project [EXTRAS]: this package installed editable into .venv, with
# the given extras ("test").  pip runs again only when pyproject.toml changed
# since the install recorded in the stamp file, or the install has gone.
ensure_project() {
    local extras="${1:-}" spec=. stamp want
    [ -n "$extras" ] && spec=".[$extras]"
    ensure_venv .venv
    stamp=".venv/.supervisor-ng-installed${extras:+-$extras}"
    want="$(_project_fingerprint)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/supervisord ] \
        && .venv/bin/python -c 'import supervisor_ng' >/dev/null 2>&1; then
        return 0
    fi
    bootstrap_log "pip install -e '$spec' into .venv"
    .venv/bin/python -m pip install -q -e "$spec"
    echo "$want" >"$stamp"
    # An install with extras also satisfies the plain one.
    [ -n "$extras" ] && echo "$want" >.venv/.supervisor-ng-installed
    return 0
}

# ensure_stock_supervisor: the unmodified Supervisor from PyPI in .venv-stock,
# which the interoperability tests run against ours, and superlance, whose
# listeners (and any listener written with supervisor.childutils) the event
# tests run with .venv-stock/bin/python.  They live apart from .venv because
# the stock package installs console scripts named supervisord/supervisorctl
# that would replace ours there.  supervisor-wildcards is a [ctlplugin:x]
# plugin, for comparing our supervisorctl's plugin commands with stock's.  Exports STOCK_VENV.
ensure_stock_supervisor() {
    ensure_venv .venv-stock
    local have pkg want
    for pkg in "supervisor==$STOCK_SUPERVISOR_VERSION" "superlance==2.0.0" "supervisor-wildcards==0.1.3"; do
        want="${pkg#*==}"
        have="$(.venv-stock/bin/python -c "import importlib.metadata as m; print(m.version('${pkg%%==*}'))" 2>/dev/null || true)"
        if [ "$have" != "$want" ]; then
            bootstrap_log "pip install $pkg into .venv-stock"
            .venv-stock/bin/python -m pip install -q "$pkg"
        fi
    done
    export STOCK_VENV="$REPO_ROOT/.venv-stock"
}

_listener_fingerprint() {
    # The listener side is src/supervisor plus the supervisor_ng modules it
    # imports: any source change may change it.
    { cat pyproject.toml; find src -name '*.py' -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 cat; } \
        | sha256sum | cut -d' ' -f1
}

# ensure_listener_tools: .venv-listeners, an environment with supervisor-ng and
# without the stock supervisor, where superlance is installed the way the
# README says (pip install --no-deps superlance): its listeners then import
# supervisor-ng's own `supervisor` package.  supervisor-ng goes in without
# its dependencies: the listener side needs none, and it is reinstalled (from
# a copy of the tree, so no build files land in it) whenever the sources
# change.  Exports LISTENER_VENV.
ensure_listener_tools() {
    ensure_venv .venv-listeners
    local stamp=.venv-listeners/.supervisor-ng-installed want copy
    want="$(_listener_fingerprint)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        bootstrap_log "pip install --no-deps supervisor-ng (this tree) into .venv-listeners"
        copy="$(mktemp -d)"
        cp -r pyproject.toml README.md src "$copy/"
        find "$copy/src" -name '*.egg-info' -prune -exec rm -rf {} +
        .venv-listeners/bin/python -m pip install -q --no-deps --force-reinstall "$copy"
        rm -rf "$copy"
        echo "$want" >"$stamp"
    fi
    if ! .venv-listeners/bin/python -c "import importlib.metadata as m; assert m.version('superlance') == '2.0.0'" >/dev/null 2>&1; then
        bootstrap_log "pip install --no-deps superlance==2.0.0 into .venv-listeners"
        .venv-listeners/bin/python -m pip install -q --no-deps "superlance==2.0.0"
    fi
    export LISTENER_VENV="$REPO_ROOT/.venv-listeners"
}

# ensure_npm_clients: the npm `xmlrpc` package (what Node.js tools use to talk
# to Supervisor) in .venv-npm/, for the tests that drive the daemon with it.
# Exports NPM_CLIENTS.
ensure_npm_clients() {
    # Debian's nodejs and npm, unless an npm is already there (NodeSource's
    # nodejs bundles npm and conflicts with Debian's package of it).
    if ! command -v npm >/dev/null 2>&1; then
        ensure_debian_packages nodejs npm
    fi
    if [ ! -f .venv-npm/node_modules/xmlrpc/package.json ]; then
        bootstrap_log "npm install xmlrpc@1.3.2 into .venv-npm"
        mkdir -p .venv-npm
        npm install --silent --no-audit --no-fund --prefix .venv-npm xmlrpc@1.3.2
    fi
    export NPM_CLIENTS="$REPO_ROOT/.venv-npm/node_modules"
}

#!/usr/bin/env bash
# Build supervisor-ng-<version>-1.noarch.rpm from this source tree.
#
#   packaging/rpm/build.sh [OUTDIR]        (default OUTDIR: dist/)
#
# VERSION=x.y.z overrides the version (default: pyproject.toml's).  The
# build runs in a private rpmbuild tree under a temporary directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/dist}"
version="${VERSION:-$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/pyproject.toml" | head -n1)}"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{SOURCES,SPECS,BUILD,RPMS,SRPMS} "$out"
tar -C "$root" --exclude=__pycache__ --exclude='*.egg-info' --exclude='*.pyc' \
    --transform "s|^|supervisor-ng-$version/|" \
    -czf "$work/SOURCES/supervisor-ng-$version.tar.gz" pyproject.toml README.md src units packaging completion monitoring
# On a host whose packages rpm does not manage (Debian), rpm's database
# knows no python3: skip the BuildRequires check there.
nodeps=()
rpm -q python3 >/dev/null 2>&1 || nodeps=(--nodeps)
rpmbuild -bb --quiet "${nodeps[@]}" \
    --define "_topdir $work" \
    --define "pkg_version $version" \
    "$root/packaging/rpm/supervisor-ng.spec" >"$work/build.log" 2>&1 || {
    cat "$work/build.log" >&2
    exit 1
}
rpm="$(find "$work/RPMS" -name "supervisor-ng-$version-*.noarch.rpm" | head -n1)"
cp "$rpm" "$out/"
echo "$out/$(basename "$rpm")"

#!/usr/bin/env bash
# Build supervisor-ng_<version>_all.deb from this source tree.
#
#   packaging/deb/build.sh [OUTDIR]        (default OUTDIR: dist/)
#
# VERSION=x.y.z overrides the package version (default: pyproject.toml's);
# the e2e tests use it to build a newer package for the upgrade check.
# dpkg-buildpackage writes next to the source tree, so the build happens in a
# copy under a temporary directory and only the .deb is copied out.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/dist}"
version="${VERSION:-$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/pyproject.toml" | head -n1)}"

# pybuild must see Debian's python3 and its setuptools, not a pyenv shim or
# a virtualenv.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV PYTHONDONTWRITEBYTECODE

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tree="$work/supervisor-ng-$version"
mkdir -p "$tree" "$out"
tar -C "$root" --exclude=__pycache__ --exclude='*.egg-info' --exclude='*.pyc' \
    -cf - pyproject.toml README.md src units packaging completion monitoring | tar -C "$tree" -xf -
cp -a "$root/packaging/deb/debian" "$tree/debian"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(LC_ALL=C date -R)/" \
    "$tree/debian/changelog.in" > "$tree/debian/changelog"
rm "$tree/debian/changelog.in"

# -b: binary only (no source package), -us -uc: unsigned.
(cd "$tree" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) || {
    cat "$work/build.log" >&2
    exit 1
}
deb="supervisor-ng_${version}_all.deb"
cp "$work/$deb" "$out/$deb"
echo "$out/$deb"

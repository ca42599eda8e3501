# Packages of supervisor-ng; they land in dist/.
#   make deb       supervisor-ng_<version>_all.deb (dpkg-buildpackage, debhelper, pybuild)
#   make rpm       supervisor-ng-<version>-1.noarch.rpm (rpmbuild)
#   make deb-deps / rpm-deps   only install what they build with (apt-get, as root
#                  or through sudo); `make deb` and `make rpm` run them first
#   make rpmlint   rpmlint of the rpm and the spec, with the explained filters
#   make e2e       the end-to-end tests of both under systemd-nspawn (root)

DIST ?= dist

.PHONY: deb rpm deb-deps rpm-deps rpmlint e2e clean

# The package lists live in scripts/bootstrap.sh, beside the tests' own.
deb-deps:
	bash -c 'source scripts/bootstrap.sh && ensure_debian_packages "$${DEB_BUILD_PACKAGES[@]}"'

rpm-deps:
	bash -c 'source scripts/bootstrap.sh && ensure_debian_packages "$${RPM_BUILD_PACKAGES[@]}"'

deb: deb-deps
	bash packaging/deb/build.sh $(DIST)

rpm: rpm-deps
	bash packaging/rpm/build.sh $(DIST)

rpmlint: rpm
	rpmlint -r packaging/rpm/supervisor-ng.rpmlintrc $(DIST)/supervisor-ng-*.noarch.rpm packaging/rpm/supervisor-ng.spec

e2e:
	.venv/bin/python -m pytest -q -n 2 tests/e2e

clean:
	rm -rf $(DIST)

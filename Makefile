# Packages of supervisor-ng; they land in dist/.
#   make deb       supervisor-ng_<version>_all.deb (dpkg-buildpackage, debhelper, pybuild)
#   make rpm       supervisor-ng-<version>-1.noarch.rpm (rpmbuild)
#   make rpmlint   rpmlint of the rpm and the spec, with the explained filters
#   make e2e       the end-to-end tests of both under systemd-nspawn (root)

DIST ?= dist

.PHONY: deb rpm rpmlint e2e clean

deb:
	bash packaging/deb/build.sh $(DIST)

rpm:
	bash packaging/rpm/build.sh $(DIST)

rpmlint: rpm
	rpmlint -r packaging/rpm/supervisor-ng.rpmlintrc $(DIST)/supervisor-ng-*.noarch.rpm packaging/rpm/supervisor-ng.spec

e2e:
	.venv/bin/python -m pytest -q -n 2 tests/e2e

clean:
	rm -rf $(DIST)

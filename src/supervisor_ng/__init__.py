"""supervisor-ng: a drop-in replacement for Supervisor 4.3, built for systemd hosts."""

__version__ = "0.1.0"

# What the XML-RPC API and supervisorctl report: stock clients check these.
API_VERSION = "3.0"
SUPERVISOR_VERSION = "4.3.0"

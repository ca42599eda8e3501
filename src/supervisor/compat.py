"""The Python 2/3 names listener tools still import from ``supervisor.compat``
(supervisor-checks takes ``httplib`` and ``xmlrpclib`` from here)."""

from __future__ import annotations

import http.client as httplib
import urllib.parse as urlparse
import xmlrpc.client as xmlrpclib

__all__ = ["httplib", "urlparse", "xmlrpclib"]

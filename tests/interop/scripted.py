"""A scripted XML-RPC server for supervisorctl tests against a fake daemon."""

from __future__ import annotations

import contextlib
import threading
import xmlrpc.server
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def scripted_server(scripted: Any) -> Iterator[Any]:
    """An XML-RPC server on loopback answering ``supervisor.<name>`` with
    ``scripted.methods()``; ``scripted.url`` is set to its address."""
    httpd = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
    for name, function in scripted.methods().items():
        httpd.register_function(function, f"supervisor.{name}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    scripted.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield scripted
    finally:
        httpd.shutdown()
        httpd.server_close()

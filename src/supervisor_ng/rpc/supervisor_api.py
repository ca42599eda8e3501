"""``supervisor.*``: the stock XML-RPC API, method for method.

Names (aliases included), parameters, return values, fault codes and fault
texts are Supervisor 4.3's, because supervisorctl and third-party tools
depend on every one of them.  The methods live in one module per section of
the stock API's documentation; every one of them reaches the runtime through
:class:`~..runtime.control.Control` alone.
"""

from __future__ import annotations

from .api_added_programs import AddedProgramsMethods
from .api_daemon import DaemonMethods
from .api_info import InfoMethods
from .api_logs import LogMethods
from .api_processes import ProcessMethods
from .api_talk import TalkMethods
from .api_twiddler import TwiddlerNamespace


class SupervisorNamespace(DaemonMethods, ProcessMethods, InfoMethods, LogMethods, TalkMethods):
    """The methods of ``[rpcinterface:supervisor]``."""

    def _rpc_companions(self) -> dict[str, object]:
        """Served beside the built-in API: ``ng.*`` run-time programs always,
        ``twiddler.*`` while the config declares that plugin."""
        return {"ng": AddedProgramsMethods(self._get), "twiddler": TwiddlerNamespace(self._get)}

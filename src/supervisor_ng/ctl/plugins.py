"""``[ctlplugin:x]``: third-party supervisorctl commands, loaded as stock does.

A section names a factory (``supervisor.ctl_factory = pkg.mod:make_plugin``);
the factory is called with the controller and the section's other options
and returns an object whose ``do_<cmd>`` methods become commands.  A plugin
that cannot be loaded is named in one line on stderr, with the reason, and
the other commands keep working (stock refuses to start at all).

Plugins talk to the daemon through ``ctl.get_supervisor()`` and catch
``xmlrpc.client.Fault``, so the proxy they get raises exceptions that are
both that and what the rest of supervisorctl handles.  ``xmlrpc.client`` is
imported only when a plugin is configured: it is slow to import.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any, Callable, NamedTuple, Optional

from . import wire


class PluginSpec(NamedTuple):
    name: str  # the part after "ctlplugin:"
    factory: str  # "module:callable"
    options: dict[str, str]


STOCK_BASE_MODULE = "supervisor.supervisorctl"


def _import_factory(spec: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    target: Any = module
    for part in attr.split(".") if attr else ():
        target = getattr(target, part)
    return target


def _provide_stock_base() -> None:
    """Make ``supervisor.supervisorctl`` our stand-in module, for plugins
    that import the base class from there and the stock package is absent."""
    from . import plugin_base

    parent = sys.modules.get("supervisor")
    if parent is None:
        try:
            parent = importlib.import_module("supervisor")
        except ImportError:
            parent = types.ModuleType("supervisor")
            parent.__path__ = []  # a package, so submodule imports look here
            sys.modules["supervisor"] = parent
    sys.modules[STOCK_BASE_MODULE] = plugin_base
    parent.supervisorctl = plugin_base  # type: ignore[attr-defined]


def _missing_stock_base(exc: ImportError) -> bool:
    return isinstance(exc, ModuleNotFoundError) and exc.name in ("supervisor", STOCK_BASE_MODULE)


def resolve(spec: PluginSpec) -> Callable[..., Any]:
    """The factory; ImportError or AttributeError when it cannot be had."""
    try:
        return _import_factory(spec.factory)
    except ImportError as exc:
        if not _missing_stock_base(exc):
            raise
    _provide_stock_base()
    return _import_factory(spec.factory)


def not_loaded(spec: PluginSpec, reason: str) -> None:
    sys.stderr.write(f"supervisorctl: [ctlplugin:{spec.name}] not loaded: {reason}\n")


def load_plugins(ctl: Any, specs: list[PluginSpec]) -> list[Any]:
    plugins = []
    for spec in specs:
        try:
            factory = resolve(spec)
        except (ImportError, AttributeError) as exc:
            not_loaded(spec, f"{spec.factory} cannot be resolved ({exc})")
            continue
        try:
            plugin = factory(ctl, **spec.options)
        except Exception as exc:
            not_loaded(spec, f"{spec.factory} failed: {type(exc).__name__}: {exc}")
            continue
        plugin.name = spec.name
        plugins.append(plugin)
    return plugins


def commands_of(plugin: Any) -> list[str]:
    return [
        name[3:]
        for name in dir(plugin)
        if name.startswith("do_") and name != "do_help" and callable(getattr(plugin, name))
    ]


# -- the proxy plugins get ------------------------------------------------------------


def _plugin_errors() -> tuple[type, type]:
    import xmlrpc.client

    class Fault(xmlrpc.client.Fault, wire.Fault):
        def __init__(self, faultCode: int, faultString: str) -> None:
            Exception.__init__(self, faultCode, faultString)
            self.faultCode = faultCode
            self.faultString = faultString
            self.extra: dict[str, Any] = {}

        __repr__ = wire.Fault.__repr__
        __str__ = wire.Fault.__str__

    class ProtocolError(xmlrpc.client.ProtocolError, wire.ProtocolError):
        def __init__(self, url: str, errcode: int, errmsg: str) -> None:
            Exception.__init__(self, url, errcode, errmsg)
            self.url = url
            self.errcode = errcode
            self.errmsg = errmsg
            self.headers: dict[str, str] = {}

        __repr__ = wire.ProtocolError.__repr__
        __str__ = wire.ProtocolError.__str__

    wire.DISPLAY_NAMES[Fault] = "xmlrpc.client.Fault"
    wire.DISPLAY_NAMES[ProtocolError] = "xmlrpc.client.ProtocolError"
    return Fault, ProtocolError


_ERRORS: Optional[tuple[type, type]] = None


class PluginProxy:
    """``proxy.supervisor.getState()`` (no namespace) or ``proxy.getState()``,
    over the calling thread's connection: plugins call from threads."""

    def __init__(self, connection: Callable[[], Any], namespace: Optional[str] = None) -> None:
        global _ERRORS
        if _ERRORS is None:
            _ERRORS = _plugin_errors()
        self._connection = connection
        self._namespace = namespace

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._namespace is None:
            return PluginProxy(self._connection, name)
        return _PluginMethod(self._connection, f"{self._namespace}.{name}")


class _PluginMethod:
    def __init__(self, connection: Callable[[], Any], method: str) -> None:
        self._connection = connection
        self._method = method

    def __getattr__(self, name: str) -> _PluginMethod:
        return _PluginMethod(self._connection, f"{self._method}.{name}")

    def __call__(self, *params: Any) -> Any:
        assert _ERRORS is not None
        fault, protocol_error = _ERRORS
        try:
            data = self._connection().post(wire.encode_call(self._method, params))
            return wire.decode_response(data)
        except wire.Fault as exc:
            raise fault(exc.faultCode, exc.faultString) from None
        except wire.ProtocolError as exc:
            raise protocol_error(exc.url, exc.errcode, exc.errmsg) from None

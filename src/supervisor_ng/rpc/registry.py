"""Method lookup and dispatch, and the ``system.*`` namespace.

A namespace is any object: each public callable in its class becomes
``<namespace>.<attribute>`` (aliases are just a second class attribute bound
to the same function).  Docstrings are what ``system.methodHelp`` returns and
their ``@param type name`` / ``@return type`` tags are what
``system.methodSignature`` reports, so they are written for API users.

A method may be a plain function (answered at once) or a coroutine function
(a waiting call): each request runs in its own task, so a call that waits for
a process to start never holds up another client.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

from .faults import Faults, RPCError


def _always() -> bool:
    return True


class RpcMethod:
    __slots__ = ("name", "func", "doc", "min_args", "max_args", "served")

    def __init__(self, name: str, func: Callable[..., Any], served: Callable[[], bool] = _always) -> None:
        self.name = name
        self.func = func
        # A plugin's methods exist only while the config declares it.
        self.served = served
        self.doc = inspect.cleandoc(func.__doc__ or "")
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        self.max_args = len(params)
        self.min_args = sum(1 for p in params if p.default is p.empty)

    def signature(self) -> list[str]:
        """[return type, param types...] from the docstring tags."""
        rtype = None
        ptypes = []
        for line in self.doc.splitlines():
            parts = line.strip().split()
            if len(parts) < 2:
                continue
            if parts[0] == "@return":
                rtype = parts[1]
            elif parts[0] == "@param":
                ptypes.append(parts[1])
        if rtype is None:
            raise RPCError(Faults.SIGNATURE_UNSUPPORTED)
        return [rtype, *ptypes]


class Registry:
    def __init__(self) -> None:
        self.methods: dict[str, RpcMethod] = {}

    def add_namespace(self, namespace: str, obj: object) -> None:
        """``obj``'s public methods as ``namespace.*``.  ``obj._rpc_served()``,
        if it has one, says per call whether they exist; the namespaces its
        ``_rpc_companions()`` returns are added along with it."""
        served = getattr(obj, "_rpc_served", _always)
        for attr in dir(type(obj)):
            if attr.startswith("_"):
                continue
            func = getattr(obj, attr)
            if callable(func) and inspect.ismethod(func):
                name = f"{namespace}.{attr}"
                self.methods[name] = RpcMethod(name, func, served)
        for companion, companion_obj in getattr(obj, "_rpc_companions", dict)().items():
            self.add_namespace(companion, companion_obj)

    def served(self, name: object) -> Optional[RpcMethod]:
        method = self.methods.get(name) if isinstance(name, str) else None
        return method if method is not None and method.served() else None

    def lookup(self, name: object) -> RpcMethod:
        # Only "namespace.method" and never a private name: no attribute walking
        # (CVE-2017-11610 was exactly that).
        if not isinstance(name, str):
            raise RPCError(Faults.UNKNOWN_METHOD)
        parts = name.split(".")
        if len(parts) != 2 or parts[1].startswith("_"):
            raise RPCError(Faults.UNKNOWN_METHOD)
        method = self.served(name)
        if method is None:
            raise RPCError(Faults.UNKNOWN_METHOD)
        return method

    async def call(self, name: object, params: tuple[Any, ...] | list[Any]) -> Any:
        method = self.lookup(name)
        if not method.min_args <= len(params) <= method.max_args:
            raise RPCError(Faults.INCORRECT_PARAMETERS)
        result = method.func(*params)
        if inspect.isawaitable(result):
            result = await result
        return result


class SystemNamespace:
    """``system.*``: introspection and multicall."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def listMethods(self) -> list[str]:
        """List every method this server answers, aliases included.

        @return array result  method names, sorted
        """
        return sorted(name for name, method in self._registry.methods.items() if method.served())

    def methodHelp(self, name: str) -> str:
        """The documentation of one method.

        @param string name    full method name, e.g. supervisor.getState
        @return string result its documentation text
        """
        method = self._registry.served(name)
        if method is None:
            raise RPCError(Faults.SIGNATURE_UNSUPPORTED)
        return method.doc

    def methodSignature(self, name: str) -> list[str]:
        """The types of a method: [return type, parameter types in order].

        @param string name    full method name, e.g. supervisor.readLog
        @return array result  type names as XML-RPC spells them
        """
        method = self._registry.served(name)
        if method is None:
            raise RPCError(Faults.SIGNATURE_UNSUPPORTED)
        return method.signature()

    async def multicall(self, calls: list[Any]) -> list[Any]:
        """Run several calls in one request, one after the other.

        Each entry of the result is the plain return value of that call, or a
        struct {faultCode, faultString} if it failed; a failure does not stop
        the calls after it.  A call that waits (startProcess...) holds back
        the ones after it until it is done.

        @param array calls    structs {methodName: string, params: array}
        @return array result  one entry per call, in order
        """
        if not isinstance(calls, list):
            raise RPCError(Faults.INCORRECT_PARAMETERS)
        results: list[Any] = []
        for call in calls:
            try:
                if not isinstance(call, dict):
                    raise RPCError(Faults.INCORRECT_PARAMETERS, "call is not a struct")
                name = call.get("methodName")
                params = call.get("params", [])
                if name is None:
                    raise RPCError(Faults.INCORRECT_PARAMETERS, "No methodName")
                if name == "system.multicall":
                    raise RPCError(Faults.INCORRECT_PARAMETERS, "Recursive system.multicall forbidden")
                if not isinstance(params, (list, tuple)):
                    raise RPCError(Faults.INCORRECT_PARAMETERS)
                value = await self._registry.call(name, params)
            except RPCError as exc:
                value = {"faultCode": exc.code, "faultString": exc.text}
            except Exception as exc:  # noqa: BLE001 - one bad call must not fail the rest
                value = {
                    "faultCode": int(Faults.FAILED),
                    "faultString": f"FAILED: {type(exc)}:{exc}",
                }
            results.append(value)
        return results

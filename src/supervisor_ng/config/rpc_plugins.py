"""Third-party ``[rpcinterface:x]`` plugins: which are served natively, and
what the log says about the others.

Stock imports a plugin's factory and hands it its own internals; nothing of
that can run here.  A plugin whose API is worth having is served natively
instead (supervisor_twiddler: adding and removing programs at run time, see
``rpc/api_twiddler.py``); every other one is named in the log as not loaded,
with what to use instead where there is something.
"""

from __future__ import annotations

from .ini import IniDocument
from .reader import SectionReader

TWIDDLER_FACTORY = "supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface"
TWIDDLER_NAMESPACE = "twiddler"
MULTIVISOR_FACTORY = "multivisor.rpc:make_rpc_interface"

NATIVE_FACTORIES = frozenset({TWIDDLER_FACTORY})
_FACTORY_KEY = "supervisor.rpcinterface_factory"

# (section name, factory, the section's other options)
NativeInterface = tuple[str, str, tuple[tuple[str, str], ...]]


def not_served(section: str, factory: str) -> str:
    """The one log line for a plugin section that is skipped."""
    if factory.strip() == MULTIVISOR_FACTORY:
        return (
            f"[{section}]: multivisor's rpcinterface mode works inside stock supervisord's "
            "internals and is not loaded; use its event-listener mode, which works unchanged: "
            "[eventlistener:multivisor-rpc] command=multivisor-rpc --bind 0:9002 "
            "events=PROCESS_STATE,SUPERVISOR_STATE_CHANGE"
        )
    return f"[{section}]: rpcinterface factory {factory!r} is unsupported, skipped"


def native_rpcinterfaces(doc: IniDocument, env_vars: dict) -> tuple[NativeInterface, ...]:
    """The ``[rpcinterface:x]`` sections whose factory is served natively."""
    found: list[NativeInterface] = []
    for section in doc.sections():
        if not section.startswith("rpcinterface:"):
            continue
        reader = SectionReader(doc, section, env_vars)
        factory = (reader.text(_FACTORY_KEY) or "").strip()
        if factory not in NATIVE_FACTORIES:
            continue
        options = tuple(
            (option, reader.text(option) or "") for option in doc.options(section) if option != _FACTORY_KEY
        )
        found.append((section.split(":", 1)[1], factory, options))
    return tuple(found)


def native_interface(interfaces: tuple[NativeInterface, ...], factory: str) -> NativeInterface | None:
    """The first section that declares ``factory``, if any."""
    for interface in interfaces:
        if interface[1] == factory:
            return interface
    return None

"""What every part of the ``supervisor.*`` API shares: the way to the
current generation's :class:`~..runtime.control.Control`, and the argument
coercions stock applies to what clients send."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..runtime.control import Control
from .faults import Faults, RPCError

if TYPE_CHECKING:
    from ..runtime.supervisor import Supervisor


def as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise RPCError(Faults.INCORRECT_PARAMETERS)


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false")
    return bool(value)


def as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise RPCError(Faults.INCORRECT_PARAMETERS)
    return value


def decode(data: bytes) -> str:
    # Stock decodes strictly and fails the whole call on a byte sequence cut
    # in half by the offset; a replacement character is more useful.
    return data.decode("utf-8", "replace")


class ApiPart:
    """Base of each section of the API.

    ``get_supervisor`` returns the Supervisor of the current generation: the
    daemon replaces it on every restart and the API object outlives them.
    """

    def __init__(self, get_supervisor: Callable[[], Supervisor]) -> None:
        self._get = get_supervisor

    def _any_control(self) -> Control:
        """The current generation, running or not."""
        return Control(self._get())

    def _control(self) -> Control:
        """The current generation, or SHUTDOWN_STATE while it stops."""
        control = Control(self._get())
        control.require_running()
        return control

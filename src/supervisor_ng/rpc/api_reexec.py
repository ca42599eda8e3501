"""``ng.reexec()``: hand the daemon over to (a possibly new) supervisord by exec.

The answer comes once the new binary has passed its dry run; the exec itself
happens after the answer is written (``after_answer``), so the caller learns
that it was accepted before the connection closes with the old image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from ..runtime.handover import HandoverRefused
from .faults import Faults, RPCError

if TYPE_CHECKING:
    from ..runtime.handover import Handover


class ReexecNamespace:
    """The hand-over method of the ``ng`` namespace."""

    def __init__(
        self,
        get_handover: Callable[[], Optional[Handover]],
        after_answer: Callable[[Callable[[], None]], None],
    ) -> None:
        self._get = get_handover
        self._after_answer = after_answer

    async def reexec(self) -> bool:
        handover = self._get()
        if handover is None:
            raise RPCError(Faults.FAILED, "hand-over: not available before the daemon runs")
        try:
            await handover.prepare()
        except HandoverRefused as exc:
            raise RPCError(Faults.FAILED, f"hand-over refused: {exc}") from None
        self._after_answer(handover.execute)
        return True

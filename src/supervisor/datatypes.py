"""The value parsers listener tools import from ``supervisor.datatypes``
(memmon reads its limits with ``byte_size``)."""

from __future__ import annotations

from typing import Callable

from supervisor_ng.config.datatypes import byte_size


class SuffixMultiplier:
    """A parser of numbers with a unit suffix: ``SuffixMultiplier({"kb": 1024})("3kb") == 3072``.

    Suffixes are matched case-insensitively; a number without one is taken
    as is.  ``default`` converts the number (``int`` unless said otherwise).
    """

    def __init__(self, multipliers: dict[str, int], default: Callable[[str], int] = int) -> None:
        self._multipliers = {suffix.lower(): factor for suffix, factor in multipliers.items()}
        self._default = default

    def __call__(self, value: object) -> int:
        text = str(value).strip().lower()
        for suffix in sorted(self._multipliers, key=len, reverse=True):
            if suffix and text.endswith(suffix):
                return self._default(text[: -len(suffix)]) * self._multipliers[suffix]
        return self._default(text)


__all__ = ["SuffixMultiplier", "byte_size"]

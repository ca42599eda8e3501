"""``@dataclass(**SLOTS)`` for the dataclasses there is one of per program.

Without slots an instance keeps its attributes in a dict (or, from 3.11, in
inline values of up to 30 attributes; more and it is a full dict: ~1.6 KiB
for a ProcessConfig against ~0.4 KiB with slots).  ``dataclass(slots=)`` is
3.10+, and frozen instances with slots pickle (the hand-over pickles
configs) from 3.11 on; older Pythons keep the dict.
"""

from __future__ import annotations

import sys
from typing import Any

SLOTS: dict[str, Any] = {"slots": True} if sys.version_info >= (3, 11) else {}

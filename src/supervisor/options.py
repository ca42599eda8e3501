"""The process-name helpers listener tools import from ``supervisor.options``."""

from __future__ import annotations

from supervisor_ng.names import make_namespec, split_namespec

__all__ = ["make_namespec", "split_namespec"]

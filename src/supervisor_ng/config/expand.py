"""``%(name)s`` expansion of option values.

Stock expands values with Python's own ``%`` operator against a dict, so
format specs (``%(process_num)02d``) and ``%%`` work, and a name the section
does not offer is an error.  We do the same; only the error wording is ours.
Which names each option sees is decided by the loader.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping

HERE = "%(here)s"
# A field width or precision beyond this is refused: "%(process_num)02147483648d"
# would otherwise build a 2 GiB string (and take the daemon down on a reread).
MAX_WIDTH = 1024


class ExpansionError(ValueError):
    pass


def _widths(template: str) -> list[int]:
    """The field widths and precisions of the %-conversions of ``template``,
    found with the same rules as the % operator (nested parentheses in a key)."""
    found = []
    end = len(template)
    i = template.find("%")
    while i != -1 and i + 1 < end:
        j = i + 1
        if template[j] == "%":
            i = template.find("%", j + 1)
            continue
        if template[j] == "(":
            depth = 1
            j += 1
            while j < end and depth:
                depth += {"(": 1, ")": -1}.get(template[j], 0)
                j += 1
        while j < end and template[j] in "-#0 +":
            j += 1
        for _part in ("width", "precision"):
            start = j
            while j < end and template[j].isdigit():
                j += 1
            if j > start:
                found.append(int(template[start:j]) if j - start < 10 else MAX_WIDTH + 1)
            if j < end and template[j] == "." and _part == "width":
                j += 1
            else:
                break
        i = template.find("%", j)
    return found


def expand(template: str, names: Mapping[str, object]) -> str:
    if "%" not in template:
        return template
    if any(width > MAX_WIDTH for width in _widths(template)):
        raise ExpansionError(f"{template!r} asks for a field wider than {MAX_WIDTH} characters")
    try:
        return template % dict(names)
    except KeyError as exc:
        missing = exc.args[0] if exc.args else "?"
        # The section's own names first: they are the ones people mistype.
        available = ", ".join(sorted(names, key=lambda n: (n.startswith("ENV_"), n)))
        raise ExpansionError(
            f"{template!r} uses the name %({missing})s, which is not available here; "
            f"available names: {available}"
        ) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise ExpansionError(f"{template!r} is not a valid %-format string: {exc}") from None


def env_names(env: Mapping[str, str]) -> dict[str, str]:
    """The ``ENV_X`` names for a set of environment variables."""
    return {"ENV_" + key: value for key, value in env.items()}


def replace_here(parser: configparser.RawConfigParser, here: str) -> None:
    """Replace every literal ``%(here)s`` in every option with ``here``.

    Stock does this (and only this) when the main file has an ``[include]``
    section: after each file is read, so each file's ``%(here)s`` means that
    file's directory.  It is a plain text substitution done before expansion,
    which is why ``%%(here)s`` stops being a literal in that case.
    """
    for section in parser.sections():
        for key, value in parser.items(section):
            if HERE in value:
                parser.set(section, key, value.replace(HERE, here))

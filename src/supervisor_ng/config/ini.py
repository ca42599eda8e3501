"""Reading the INI text: stock's parser semantics plus line numbers.

Stock parses with the standard library's ``RawConfigParser`` using
``inline_comment_prefixes=(';', '#')`` and ``strict=False``: a ``;`` or ``#``
starts a comment only at line start or after whitespace, sections and options
may repeat (the later one wins), option names are case-insensitive, indented
lines continue a value, ``[DEFAULT]`` feeds every section, and ``:`` works as
well as ``=``.  We use that very parser so every corner behaves the same.

``configparser`` does not remember where things came from, so a second light
pass over the same text records the file and line of each section header and
option, following the parser's own line rules; error messages use it.
"""

from __future__ import annotations

import configparser
import io
import re
import sys
from typing import Optional

from .model import ConfigError

_NONSPACE = re.compile(r"\S")
_OPTION = re.compile(r"(?P<option>.*?)\s*(?P<vi>=|:)\s*(?P<value>.*)$")
_COMMENT_PREFIXES = ("#", ";")


def new_parser() -> configparser.RawConfigParser:
    return configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)


def read_text(path: str) -> str:
    """The text of a config file; ConfigError when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise ConfigError(f"could not find config file {path!r}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"could not read config file {path!r}: not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"could not read config file {path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL byte in the path
        raise ConfigError(f"could not read config file {path!r}: {exc}") from None


def _comment_start(line: str) -> Optional[int]:
    if line.strip().startswith(_COMMENT_PREFIXES):
        return 0
    best = None
    for prefix in _COMMENT_PREFIXES:
        index = line.find(prefix)
        while index != -1:
            if index == 0 or line[index - 1].isspace():
                best = index if best is None else min(best, index)
                break
            index = line.find(prefix, index + 1)
    return best


class IniDocument:
    """The parsed files of one configuration, and where each value came from."""

    def __init__(self) -> None:
        self.parser = new_parser()
        self._section_at: dict[str, tuple[str, int]] = {}
        self._option_at: dict[tuple[str, str], tuple[str, int]] = {}
        self._first_file: Optional[str] = None
        self._values: dict[str, dict[str, str]] = {}
        # Files read whose positions are not recorded yet: only an error
        # message needs them, and the walk costs as much as the parse.
        self._unlocated: list[tuple[str, str]] = []

    def read(self, path: str, text: str) -> None:
        if self._first_file is None:
            self._first_file = path
        self._values.clear()
        try:
            self.parser.read_string(text, source=path)
        except configparser.MissingSectionHeaderError as exc:
            raise ConfigError(
                f"syntax error in file {path!r}, line {exc.lineno}: "
                f"{exc.line.strip()!r} comes before any [section] header"
            ) from None
        except configparser.ParsingError as exc:
            lineno = exc.errors[0][0] if exc.errors else 0
            lines = text.split("\n")
            bad = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
            raise ConfigError(
                f"syntax error in file {path!r}, line {lineno}: {bad!r} is neither "
                "a [section] header nor a 'name = value' option"
            ) from None
        self._unlocated.append((path, text))

    def _record_locations(self, path: str, text: str) -> None:
        # The same walk configparser._read does, keeping only positions.
        section: Optional[str] = None
        option: Optional[str] = None
        indent_level = 0
        for lineno, line in enumerate(io.StringIO(text), start=1):
            start = _comment_start(line)
            value = line[:start].strip()
            if not value:
                if start is not None:
                    indent_level = sys.maxsize
                continue
            match = _NONSPACE.search(line)
            indent = match.start() if match else 0
            if section is not None and option and indent > indent_level:
                continue
            indent_level = indent
            header = self.parser.SECTCRE.match(value)
            if header:
                section = header.group("header")
                option = None
                self._section_at.setdefault(section, (path, lineno))
                continue
            found = _OPTION.match(value)
            if section is not None and found:
                option = self.parser.optionxform(found.group("option").rstrip())
                self._option_at[(section, option)] = (path, lineno)

    def close(self) -> None:
        """Let the parsed sections go with their last reference.  Each of
        configparser's section proxies keeps its typed getters as partials
        of its own methods, a cycle: left as they are, only a full pass of
        the cyclic collector frees them (a reread of 5,000 programs: ~65,000
        objects, found in a 40-80 ms pass on the daemon's loop)."""
        for proxy in list(self.parser.values()):
            vars(proxy).clear()
        for section in self.parser.sections():
            self.parser.remove_section(section)
        self._values.clear()

    def sections(self) -> list[str]:
        return self.parser.sections()

    def has_section(self, section: str) -> bool:
        return self.parser.has_section(section)

    def has_option(self, section: str, option: str) -> bool:
        return self.parser.has_option(section, option)

    def raw(self, section: str, option: str) -> Optional[str]:
        values = self._values.get(section)
        if values is None:
            # configparser's per-option lookups dominate loading a config of
            # hundreds of programs; one dict per section (defaults merged in,
            # as configparser does) is read once instead.
            if not self.parser.has_section(section):
                return None
            values = self._values[section] = dict(self.parser.items(section, raw=True))
        return values.get(self.parser.optionxform(option))

    def options(self, section: str) -> list[str]:
        return self.parser.options(section)

    def where(self, section: str, option: Optional[str] = None) -> tuple[str, Optional[int]]:
        """(file, line) of an option, else of the section header."""
        for path, text in self._unlocated:
            self._record_locations(path, text)
        self._unlocated.clear()
        if option is not None:
            for sect in (section, self.parser.default_section):
                found = self._option_at.get((sect, option))
                if found is not None:
                    return found
        found = self._section_at.get(section)
        if found is not None:
            return found
        return self._first_file or "?", None

"""Reading typed options out of one section, with errors that say where.

Every error the loader raises for a value goes through here, so they all
name the file, the section, the option and (when known) the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional, TypeVar

from .expand import ExpansionError, expand
from .ini import IniDocument
from .model import LOG_LEVELS, ConfigError, ParseMessage

T = TypeVar("T")


def _where(file: str, line: Optional[int]) -> str:
    if line is None:
        return f"file: {file!r}"
    return f"file: {file!r}, line {line}"


def option_error(
    doc: IniDocument, section: str, option: str, detail: str, *, missing: bool = False
) -> ConfigError:
    file, line = doc.where(section, option)
    what = "missing option" if missing else "bad value for option"
    return ConfigError(f"{what} {option!r} in section [{section}] ({_where(file, line)}): {detail}")


def section_error(doc: IniDocument, section: str, detail: str) -> ConfigError:
    file, line = doc.where(section)
    return ConfigError(f"error in section [{section}] ({_where(file, line)}): {detail}")


class SectionReader:
    """Options of one section, %-expanded with a given set of names."""

    def __init__(self, doc: IniDocument, section: str, names: Mapping[str, object]) -> None:
        self.doc = doc
        self.section = section
        self.names = names

    def has(self, option: str) -> bool:
        return self.doc.has_option(self.section, option)

    def raw(self, option: str) -> Optional[str]:
        return self.doc.raw(self.section, option)

    def text(
        self,
        option: str,
        default: Optional[str] = None,
        *,
        names: Optional[Mapping[str, object]] = None,
    ) -> Optional[str]:
        raw = self.doc.raw(self.section, option)
        if raw is None:
            return default
        return self.expand(option, raw, names)

    def expand(
        self, option: str, template: str, names: Optional[Mapping[str, object]] = None
    ) -> str:
        try:
            return expand(template, self.names if names is None else names)
        except ExpansionError as exc:
            raise self.error(option, str(exc)) from None

    def value(
        self,
        option: str,
        convert: Callable[[str], T],
        default: Any,
        *,
        names: Optional[Mapping[str, object]] = None,
    ) -> Any:
        text = self.text(option, names=names)
        if text is None:
            return default
        return self.convert(option, convert, text)

    def convert(self, option: str, convert: Callable[[str], T], text: str) -> T:
        try:
            return convert(text)
        except ValueError as exc:
            raise self.error(option, str(exc)) from None

    def required(
        self, option: str, detail: str, *, names: Optional[Mapping[str, object]] = None
    ) -> str:
        text = self.text(option, names=names)
        if text is None:
            raise option_error(self.doc, self.section, option, detail, missing=True)
        return text

    def error(self, option: str, detail: str) -> ConfigError:
        return option_error(self.doc, self.section, option, detail)

    def section_error(self, detail: str) -> ConfigError:
        return section_error(self.doc, self.section, detail)


class Messages:
    """Parse messages for the daemon's log, in stock's order (critical, then
    warnings, then infos), each text once."""

    def __init__(self) -> None:
        self._items: list[ParseMessage] = []

    def add(self, level: str, text: str) -> None:
        message = ParseMessage(LOG_LEVELS[level], text)
        if level != "info" and message in self._items:
            return
        self._items.append(message)

    def warn(self, text: str) -> None:
        self.add("warn", text)

    def info(self, text: str) -> None:
        self.add("info", text)

    def result(self) -> tuple[ParseMessage, ...]:
        return tuple(sorted(self._items, key=lambda m: -m.level))

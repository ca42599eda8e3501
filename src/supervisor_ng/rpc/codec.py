"""XML-RPC on the wire: a request parser that cannot be abused, and a marshaller.

The parser is expat driven by hand rather than ``xmlrpc.client.loads``:

- a document type declaration is refused outright, so there is no way to
  declare entities (no "billion laughs", no external entities);
- it accepts what stock supervisord accepts: ``int``/``i4``, ``boolean``,
  ``string``, ``double``, ``dateTime.iso8601``, ``array``, ``struct``,
  ``base64`` (decoded to text, as stock does) and untyped values (text);
  an element of any other type yields its text (None when empty), which is
  what stock passes on, so ``<nil/>`` is not a type here either;
- it can be fed piece by piece (:func:`parse_request_async` yields to the
  event loop between pieces), so a large body cannot stall other clients.

Writing XML-RPC is :mod:`.marshalling`'s (shared with supervisorctl, which
must not import this module's asyncio); its names are re-exported here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..lazy_import import LazyModule
from .marshalling import EncodedStruct, dump_fault, dump_members, dump_response

if TYPE_CHECKING:
    import base64
    import datetime
    from xml.parsers import expat
else:
    # At the first request: a daemon at rest holds no XML parser (pyexpat).
    expat = LazyModule("xml.parsers.expat")
    base64 = LazyModule("base64")

__all__ = [
    "BodyTooLarge",
    "EncodedStruct",
    "ParseError",
    "RequestParser",
    "dump_fault",
    "dump_members",
    "dump_response",
    "parse_request",
    "parse_request_async",
    "parse_request_stream",
]

MAX_DEPTH = 256  # element nesting; real requests use < 10
PARSE_CHUNK = 64 * 1024  # bytes parsed between two yields to the loop


class ParseError(ValueError):
    """The body is not an XML-RPC call we accept (HTTP 400)."""


# -- parsing ---------------------------------------------------------------------


def _refuse(*_args: object) -> None:
    raise ParseError("DTDs and entity declarations are not accepted")


def _datetime(text: str) -> datetime.datetime:
    import datetime  # rare in a request: not loaded for every daemon

    return datetime.datetime(*time.strptime(text.strip(), "%Y%m%dT%H:%M:%S")[:6])


def _boolean(text: str) -> bool:
    return text.strip() == "1"


def _base64(text: str) -> str:
    return base64.b64decode(text.encode("ascii")).decode("utf-8")


_SCALARS = {
    "int": int,
    "i4": int,
    "boolean": _boolean,
    "string": str,
    "double": float,
    "dateTime.iso8601": _datetime,
    "base64": _base64,
}

_NO_VALUE = object()


class _Frame:
    __slots__ = ("tag", "text", "children")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.text: list[str] = []
        self.children: list[tuple[str, Any]] = []

    def first(self, tag: str) -> Any:
        for child_tag, value in self.children:
            if child_tag == tag:
                return value
        return _NO_VALUE


class RequestParser:
    """Incremental parser of one ``<methodCall>``.

    ``feed()`` the body in pieces, then ``close()`` returns (method, params).
    Raises :class:`ParseError` for anything malformed or refused.
    """

    def __init__(self) -> None:
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = _refuse
        parser.EntityDeclHandler = _refuse
        parser.UnparsedEntityDeclHandler = _refuse
        parser.ExternalEntityRefHandler = _refuse
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        self._parser: Optional[Any] = parser
        self._stack: list[_Frame] = []
        self.method: Optional[str] = None
        self.params: Optional[tuple[Any, ...]] = None

    def feed(self, data: bytes) -> None:
        try:
            self._parse(data, False)
        except ParseError:
            self._release()
            raise

    def close(self) -> tuple[str, tuple[Any, ...]]:
        try:
            self._parse(b"", True)
        finally:
            self._release()
        if not self.method:
            raise ParseError("no method name")
        return self.method, self.params if self.params is not None else ()

    def _release(self) -> None:
        # The expat parser holds our bound methods as its handlers: a cycle
        # that only the cyclic GC would free, and with it the parsed params
        # (a 9 MB string per request piled up until a full collection).
        self._parser = None
        self._stack = []

    def _parse(self, data: bytes, final: bool) -> None:
        if self._parser is None:
            raise ParseError("the request was already parsed")
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            raise ParseError(str(exc)) from None
        except ParseError:
            raise
        except (ValueError, TypeError, UnicodeError, OverflowError) as exc:
            raise ParseError(f"bad value: {exc}") from None
        except LookupError as exc:  # <?xml encoding="..."?> names no codec Python has
            raise ParseError(f"unsupported encoding: {exc}") from None

    def _start(self, tag: str, _attrs: dict) -> None:
        if len(self._stack) >= MAX_DEPTH:
            raise ParseError("nested too deeply")
        self._stack.append(_Frame(tag))

    def _text(self, data: str) -> None:
        if self._stack:
            self._stack[-1].text.append(data)

    def _end(self, tag: str) -> None:
        frame = self._stack.pop()
        text = "".join(frame.text)
        scalar = _SCALARS.get(tag)
        if scalar is not None:
            value: Any = scalar(text)
        elif tag == "value":
            value = frame.children[0][1] if frame.children else text
        elif tag == "data":
            value = [v for t, v in frame.children if t == "value"]
        elif tag == "array":
            value = frame.first("data")
            if value is _NO_VALUE:
                value = []
        elif tag == "name":
            value = text
        elif tag == "member":
            name, member_value = frame.first("name"), frame.first("value")
            if name is _NO_VALUE or member_value is _NO_VALUE:
                raise ParseError("struct member needs a name and a value")
            value = (name, member_value)
        elif tag == "struct":
            value = dict(v for t, v in frame.children if t == "member")
        elif tag == "param":
            value = frame.first("value")
            if value is _NO_VALUE:
                raise ParseError("param without a value")
        elif tag == "params":
            self.params = tuple(v for t, v in frame.children if t == "param")
            value = None
        elif tag == "methodName":
            self.method = text.strip()
            value = None
        else:
            # Unknown types (nil, i8, ...) pass on their text, as in stock.
            value = text or None
        if self._stack:
            self._stack[-1].children.append((tag, value))


def parse_request(body: bytes) -> tuple[str, tuple[Any, ...]]:
    parser = RequestParser()
    parser.feed(body)
    return parser.close()


async def parse_request_async(body: bytes) -> tuple[str, tuple[Any, ...]]:
    """Like :func:`parse_request`, letting the loop run between pieces of a
    large body."""
    parser = RequestParser()
    view = memoryview(body)
    for start in range(0, len(view), PARSE_CHUNK):
        if start:
            await asyncio.sleep(0)
        parser.feed(bytes(view[start : start + PARSE_CHUNK]))
    return parser.close()


class BodyTooLarge(ParseError):
    """The body is over the size limit (HTTP 413)."""


async def parse_request_stream(
    read: Callable[[int], Awaitable[bytes]], limit: int
) -> tuple[str, tuple[Any, ...]]:
    """Parse a body as it arrives (``read(n)`` gives up to n bytes, b"" at
    its end), refusing more than ``limit`` bytes (:class:`BodyTooLarge`).

    No copy of the body is kept: a body read whole would be up to the limit
    per client, held for as long as its call runs.
    """
    parser = RequestParser()
    total = 0
    while True:
        chunk = await read(PARSE_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            parser._release()
            raise BodyTooLarge(f"more than {limit} bytes")
        parser.feed(chunk)
    return parser.close()

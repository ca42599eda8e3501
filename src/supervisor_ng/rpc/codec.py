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

The marshaller writes the response in one pass and replaces characters XML
1.0 cannot carry (control characters, e.g. the ESC of coloured program
output) with U+FFFD: otherwise the client's XML parser would reject the whole
response and an entire log tail would be lost for one byte.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import re
import time
from collections.abc import Awaitable
from typing import Any, Callable, Optional
from xml.parsers import expat

MAX_DEPTH = 256  # element nesting; real requests use < 10
PARSE_CHUNK = 64 * 1024  # bytes parsed between two yields to the loop


class ParseError(ValueError):
    """The body is not an XML-RPC call we accept (HTTP 400)."""


# -- parsing ---------------------------------------------------------------------


def _refuse(*_args: object) -> None:
    raise ParseError("DTDs and entity declarations are not accepted")


def _datetime(text: str) -> datetime.datetime:
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

    No copy of the body is kept: aiohttp keeps a connection's last request
    alive while the connection idles, and with it a body read whole (up to
    the limit, per idle client).
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


# -- marshalling -----------------------------------------------------------------

# Characters XML 1.0 cannot contain, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("\ufffd", text)
    return text


class EncodedStruct(dict):
    """A struct whose members are already marshalled (``members_xml``: pieces
    made by :func:`dump_members`, written one after the other as they are).
    It is still the dict it encodes, for callers in the daemon that read it
    rather than send it.  getAllProcessInfo keeps most of each process's
    members encoded between state changes instead of marshalling them anew
    on every call."""

    __slots__ = ("members_xml",)

    def __init__(self, items: dict[str, Any], members_xml: tuple[str, ...]) -> None:
        super().__init__(items)
        self.members_xml: Optional[tuple[str, ...]] = members_xml

    # Changed after it was made, it is marshalled as the plain dict it now is.
    def __setitem__(self, key: str, value: Any) -> None:
        self.members_xml = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.members_xml = None
        super().__delitem__(key)

    def _changed(name: str) -> Any:  # builds the methods below (not one itself)
        def method(self: EncodedStruct, *args: Any, **kwargs: Any) -> Any:
            self.members_xml = None
            return getattr(dict, name)(self, *args, **kwargs)

        return method

    update = _changed("update")
    setdefault = _changed("setdefault")
    pop = _changed("pop")
    popitem = _changed("popitem")
    clear = _changed("clear")
    __ior__ = _changed("__ior__")
    del _changed


def dump_members(items: dict[str, Any]) -> str:
    """The ``<member>`` elements of a struct with ``items``, as :func:`_dump` writes them."""
    out: list[str] = []
    for key, item in items.items():
        out.append(f"<member>\n<name>{_escape(str(key))}</name>\n")
        _dump(item, out)
        out.append("</member>\n")
    return "".join(out)


def _dump(value: Any, out: list[str]) -> None:
    if type(value) is EncodedStruct and value.members_xml is not None:
        out.append("<value><struct>\n")
        out.extend(value.members_xml)
        out.append("</struct></value>\n")
    # bool before int: True is an int too.
    elif value is True or value is False:
        out.append(f"<value><boolean>{int(value)}</boolean></value>\n")
    elif isinstance(value, str):
        out.append(f"<value><string>{_escape(value)}</string></value>\n")
    elif isinstance(value, int):
        out.append(f"<value><int>{int(value)}</int></value>\n")
    elif isinstance(value, dict):
        out.append("<value><struct>\n")
        for key, item in value.items():
            out.append(f"<member>\n<name>{_escape(str(key))}</name>\n")
            _dump(item, out)
            out.append("</member>\n")
        out.append("</struct></value>\n")
    elif isinstance(value, (list, tuple)):
        out.append("<value><array><data>\n")
        for item in value:
            _dump(item, out)
        out.append("</data></array></value>\n")
    elif isinstance(value, float):
        out.append(f"<value><double>{value!r}</double></value>\n")
    elif isinstance(value, (bytes, bytearray)):
        out.append(f"<value><base64>\n{base64.b64encode(value).decode()}</base64></value>\n")
    elif isinstance(value, datetime.datetime):
        stamp = value.strftime("%Y%m%dT%H:%M:%S")
        out.append(f"<value><dateTime.iso8601>{stamp}</dateTime.iso8601></value>\n")
    else:
        raise TypeError(f"cannot marshal {type(value).__name__} objects")


def dump_response(value: Any) -> bytes:
    out = ["<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"]
    _dump(value, out)
    out.append("</param>\n</params>\n</methodResponse>\n")
    return "".join(out).encode("utf-8")


def dump_fault(code: int, text: str) -> bytes:
    out = ["<?xml version='1.0'?>\n<methodResponse>\n<fault>\n"]
    _dump({"faultCode": code, "faultString": text}, out)
    out.append("</fault>\n</methodResponse>\n")
    return "".join(out).encode("utf-8")
